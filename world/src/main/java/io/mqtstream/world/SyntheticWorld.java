package io.mqtstream.world;

import java.awt.Color;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * A deterministic, seeded generator of short videos with questions whose answers follow from the
 * scene: shapes in colours and two sizes, moving over plain or checkered backgrounds, sometimes
 * appearing mid-clip. It powers training, evaluation, the {@code synthetic:} camera and the load
 * tests, so every answer can be checked. A seed gives the same clip, pixels and questions every
 * time.
 */
public final class SyntheticWorld {
  static final String[] NUMBERS = {
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"
  };

  private final WorldConfig config;

  public SyntheticWorld(WorldConfig config) {
    this.config = config;
  }

  public WorldConfig config() {
    return config;
  }

  /** The clip of a seed. */
  public Clip clip(long seed) {
    Random r = Seeds.random(seed);
    int size = config.imageSize();
    int t = config.frames();
    int n = config.minObjects() + r.nextInt(config.maxObjects() - config.minObjects() + 1);
    Set<String> used = new LinkedHashSet<>();
    List<SceneObject> objects = new ArrayList<>();
    int appearing = t > 1 && n > 0 && r.nextDouble() < config.appearing() ? r.nextInt(n) : -1;
    int attempts = 0;
    while (objects.size() < n && attempts++ < 200) {
      Shape shape = Shape.values()[r.nextInt(Shape.values().length)];
      Colour colour = Colour.values()[r.nextInt(Colour.values().length)];
      boolean large = r.nextBoolean();
      if (used.contains(colour + "/" + shape)) {
        continue;
      }
      double radius = (large ? 0.16 : 0.10) * size;
      double vx = 0;
      double vy = 0;
      if (t > 1 && r.nextDouble() < config.moving()) {
        double speed = size * (0.04 + 0.03 * r.nextDouble());
        switch (r.nextInt(4)) {
          case 0 -> vx = speed;
          case 1 -> vx = -speed;
          case 2 -> vy = speed;
          default -> vy = -speed;
        }
      }
      double x = start(r, size, radius, vx * (t - 1));
      double y = start(r, size, radius, vy * (t - 1));
      int appears = objects.size() == appearing ? 1 + r.nextInt(t - 1) : 0;
      SceneObject o =
          new SceneObject(shape, colour, large, x, y, vx, vy, appears, Integer.MAX_VALUE);
      if (objects.stream().noneMatch(other -> overlap(o, other, size, t))) {
        used.add(colour + "/" + shape);
        objects.add(o);
      }
    }
    Color background = r.nextBoolean() ? new Color(40, 40, 40) : new Color(120, 120, 120);
    return new Clip(seed, size, t, background, r.nextDouble() < config.checkered(), objects);
  }

  /** Whether two objects' boxes (plus a pixel) touch in any frame where both are visible. */
  private static boolean overlap(SceneObject a, SceneObject b, int size, int frames) {
    double reach = a.radius(size) + b.radius(size) + 1;
    for (int t = 0; t < frames; t++) {
      if (a.visibleAt(t)
          && b.visibleAt(t)
          && Math.abs(a.x(t) - b.x(t)) < reach
          && Math.abs(a.y(t) - b.y(t)) < reach) {
        return true;
      }
    }
    return false;
  }

  /** A start coordinate such that the whole path stays inside the frame. */
  private static double start(Random r, int size, double radius, double travel) {
    double lo = radius - Math.min(0, travel);
    double hi = size - radius - Math.max(0, travel);
    return lo + r.nextDouble() * Math.max(0, hi - lo);
  }

  /** Every question the clip can answer about frames 0..last, of the configured types. */
  public List<Question> questions(Clip clip, int last) {
    List<Question> out = new ArrayList<>();
    List<SceneObject> now = clip.visibleAt(last);
    int size = clip.imageSize();
    for (QuestionType type : config.types()) {
      switch (type) {
        case EXISTS -> {
          for (Shape s : Shape.values()) {
            for (Colour c : Colour.values()) {
              SceneObject named = // identities are unique in a clip
                  now.stream()
                      .filter(o -> o.shape() == s && o.colour() == c)
                      .findFirst()
                      .orElse(null);
              out.add(
                  new Question(
                      type,
                      "is there a " + c.word() + " " + s.word() + "?",
                      named == null ? "no" : "yes",
                      named));
            }
          }
        }
        case COLOUR_OF -> {
          for (Shape s : Shape.values()) {
            List<SceneObject> of = now.stream().filter(o -> o.shape() == s).toList();
            if (of.size() == 1) {
              out.add(
                  new Question(
                      type,
                      "what colour is the " + s.word() + "?",
                      of.get(0).colour().word(),
                      of.get(0)));
            }
          }
        }
        case COUNT_ALL ->
            out.add(new Question(type, "how many shapes are there?", NUMBERS[now.size()]));
        case COUNT_SHAPE -> {
          for (Shape s : Shape.values()) {
            long k = now.stream().filter(o -> o.shape() == s).count();
            out.add(new Question(type, "how many " + s.plural() + " are there?", NUMBERS[(int) k]));
          }
        }
        case COUNT_COLOUR -> {
          for (Colour c : Colour.values()) {
            long k = now.stream().filter(o -> o.colour() == c).count();
            out.add(
                new Question(
                    type, "how many " + c.word() + " shapes are there?", NUMBERS[(int) k]));
          }
        }
        case POSITION -> {
          double margin = 0.12 * size;
          for (SceneObject o : now) {
            double dx = o.x(last) - size / 2.0;
            double dy = o.y(last) - size / 2.0;
            if (Math.abs(dx) > margin) {
              out.add(
                  new Question(
                      type,
                      "is the " + o.name() + " on the left or the right?",
                      dx < 0 ? "left" : "right",
                      o));
            }
            if (Math.abs(dy) > margin) {
              out.add(
                  new Question(
                      type,
                      "is the " + o.name() + " at the top or the bottom?",
                      dy < 0 ? "top" : "bottom",
                      o));
            }
          }
        }
        case DIRECTION -> {
          for (SceneObject o : now) {
            if (last >= 1 && o.visibleAt(last - 1)) {
              out.add(
                  new Question(type, "which way is the " + o.name() + " moving?", direction(o), o));
            }
          }
        }
        case APPEARED -> {
          if (last >= 1) {
            boolean appeared =
                clip.objects().stream().anyMatch(o -> o.appears() >= 1 && o.appears() <= last);
            out.add(new Question(type, "did something appear?", appeared ? "yes" : "no"));
          }
        }
      }
    }
    return out;
  }

  /** Questions about the whole clip. */
  public List<Question> questions(Clip clip) {
    return questions(clip, clip.frames() - 1);
  }

  private static String direction(SceneObject o) {
    if (o.vx() == 0 && o.vy() == 0) {
      return "still";
    }
    if (Math.abs(o.vx()) >= Math.abs(o.vy())) {
      return o.vx() > 0 ? "right" : "left";
    }
    return o.vy() > 0 ? "down" : "up";
  }

  /**
   * A short description of frame {@code last} for alignment training: each visible object as "large
   * red circle left top", joined by "and".
   */
  public String describe(Clip clip, int last) {
    List<String> parts = new ArrayList<>();
    int size = clip.imageSize();
    for (SceneObject o : clip.visibleAt(last)) {
      parts.add(
          (o.large() ? "large " : "small ")
              + o.name()
              + (o.x(last) < size / 2.0 ? " left" : " right")
              + (o.y(last) < size / 2.0 ? " top" : " bottom"));
    }
    return parts.isEmpty() ? "nothing" : String.join(" and ", parts);
  }

  /**
   * Every object's name, colour then shape ("red circle"), shape by shape: the phrases a tokenizer
   * may read as one token each.
   */
  public static List<String> objectNames() {
    List<String> names = new ArrayList<>();
    for (Shape s : Shape.values()) {
      for (Colour c : Colour.values()) {
        names.add(c.word() + " " + s.word());
      }
    }
    return List.copyOf(names);
  }

  /** Every word the world's questions, answers and descriptions use, for the tokenizer. */
  public static List<String> vocabulary() {
    Set<String> words = new LinkedHashSet<>();
    for (String w :
        "is there a what colour the how many shapes are on left or right at top bottom which way moving did something appear yes no still up down large small and nothing ?"
            .split(" ")) {
      words.add(w);
    }
    for (Shape s : Shape.values()) {
      words.add(s.word());
      words.add(s.plural());
    }
    for (Colour c : Colour.values()) {
      words.add(c.word());
    }
    words.addAll(List.of(NUMBERS));
    return List.copyOf(words);
  }
}
