package io.mqtstream.app;

import io.mqtstream.training.Evaluator;
import io.mqtstream.world.Colour;
import io.mqtstream.world.SceneObject;
import io.mqtstream.world.Shape;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Accuracy at one m per question type, split two ways by how crowded the clip is: by the number of
 * objects in the frame the question is about, and, for a question that names an object ("is the red
 * circle on the left or the right?"), by whether another object there has its colour or its shape.
 * It tells a model that cannot see an object from one that cannot tell which object was named (eval
 * {@code --by-objects}).
 */
final class ClutterTally implements Consumer<Evaluator.Answer> {
  /** Lookalike classes of a named object, in report order. */
  static final List<String> LOOKALIKES =
      List.of("alone", "same colour", "same shape", "same colour and shape", "not there");

  private final int m;
  private final Map<String, Map<Integer, int[]>> byObjects =
      new TreeMap<>(); // type → n → right, all
  private final Map<String, Map<String, int[]>> byLookalike = new TreeMap<>();

  ClutterTally(int m) {
    this.m = m;
  }

  @Override
  public void accept(Evaluator.Answer a) {
    if (a.m() != m) {
      return;
    }
    boolean right = a.given().equals(a.question().answer());
    String type = a.question().type().key();
    List<SceneObject> there = a.clip().visibleAt(a.clip().frames() - 1);
    add(byObjects.computeIfAbsent(type, k -> new TreeMap<>()), there.size(), right);
    lookalike(a.question().text(), there)
        .ifPresent(
            kind -> add(byLookalike.computeIfAbsent(type, k -> new TreeMap<>()), kind, right));
  }

  /**
   * The lookalike class of the object a question names, or empty when it names none (a count, "what
   * colour is the circle?").
   */
  static Optional<String> lookalike(String question, List<SceneObject> there) {
    Optional<SceneObject> named =
        there.stream().filter(o -> question.contains(o.name())).findFirst();
    if (named.isEmpty()) {
      boolean namesOne =
          Arrays.stream(Colour.values())
              .anyMatch(
                  c ->
                      Arrays.stream(Shape.values())
                          .anyMatch(s -> question.contains(c.word() + " " + s.word())));
      return namesOne ? Optional.of("not there") : Optional.empty();
    }
    SceneObject o = named.get();
    boolean colour =
        there.stream().anyMatch(x -> x != o && x.colour() == o.colour() && x.shape() != o.shape());
    boolean shape =
        there.stream().anyMatch(x -> x != o && x.shape() == o.shape() && x.colour() != o.colour());
    return Optional.of(
        colour && shape
            ? "same colour and shape"
            : colour ? "same colour" : shape ? "same shape" : "alone");
  }

  private static <K> void add(Map<K, int[]> tally, K key, boolean right) {
    int[] t = tally.computeIfAbsent(key, k -> new int[2]);
    t[0] += right ? 1 : 0;
    t[1]++;
  }

  /** Right and asked per type and number of objects there. */
  Map<String, Map<Integer, int[]>> byObjects() {
    return byObjects;
  }

  /** Right and asked per type and lookalike class of the named object. */
  Map<String, Map<String, int[]>> byLookalike() {
    return byLookalike;
  }

  /** One line per type: accuracy (right/asked) by objects there, then by lookalike class. */
  String report() {
    StringBuilder out = new StringBuilder();
    out.append(String.format(Locale.ROOT, "accuracy by clutter at m=%d (right/asked):%n", m));
    byObjects.forEach(
        (type, byN) -> {
          out.append("  ").append(type).append(": ");
          byN.forEach(
              (n, t) -> out.append(String.format(Locale.ROOT, "%d objects %s; ", n, cell(t))));
          Map<String, int[]> look = byLookalike.getOrDefault(type, Map.of());
          for (String kind : LOOKALIKES) {
            if (look.containsKey(kind)) {
              out.append(String.format(Locale.ROOT, "%s %s; ", kind, cell(look.get(kind))));
            }
          }
          out.setLength(out.length() - 2);
          out.append(System.lineSeparator());
        });
    return out.toString();
  }

  private static String cell(int[] t) {
    return String.format(Locale.ROOT, "%.1f%% (%d/%d)", 100.0 * t[0] / t[1], t[0], t[1]);
  }
}
