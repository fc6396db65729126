package io.mqtstream.training;

import io.mqtstream.encoder.MqtEncoder;
import io.mqtstream.encoder.VisualTokens;
import io.mqtstream.reasoner.Completion;
import io.mqtstream.reasoner.Prompt;
import io.mqtstream.reasoner.Reasoner;
import io.mqtstream.reasoner.Sampling;
import io.mqtstream.world.Clip;
import io.mqtstream.world.Question;
import io.mqtstream.world.QuestionType;
import io.mqtstream.world.Seeds;
import io.mqtstream.world.Split;
import io.mqtstream.world.SyntheticWorld;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.IntConsumer;

/**
 * Exact-match accuracy of an encoder and LM on test clips of the synthetic world, per m and per
 * question type. Each clip gets one question (type drawn uniformly among those it can answer); its
 * frames go through the camera's JPEG path and are encoded once at M; every m then answers from the
 * first m tokens, greedy, in batches.
 */
public final class Evaluator {
  private static final int BATCH = 32;

  private final MqtEncoder encoder;
  private final Reasoner reasoner;
  private final SyntheticWorld world;
  private final CameraFrames cameraFrames = new CameraFrames("eval");

  public Evaluator(MqtEncoder encoder, Reasoner reasoner, SyntheticWorld world) {
    this.encoder = encoder;
    this.reasoner = reasoner;
    this.world = world;
  }

  /** Accuracy at one m: overall and per question type. */
  public record Score(int samples, double accuracy, Map<String, Double> byType) {}

  /** One answer given: at which m, about which clip, to which question, what the model said. */
  public record Answer(int m, Clip clip, Question question, String given) {}

  /**
   * @param progress called with the number of clips done
   * @return scores by m, in the order given
   */
  public Map<Integer, Score> evaluate(int[] ms, int samples, long seed, IntConsumer progress) {
    return evaluate(ms, samples, seed, progress, a -> {});
  }

  /** The same, telling {@code answers} every answer given (to list what the model gets wrong). */
  public Map<Integer, Score> evaluate(
      int[] ms,
      int samples,
      long seed,
      IntConsumer progress,
      java.util.function.Consumer<Answer> answers) {
    Map<Integer, int[]> right = new LinkedHashMap<>();
    Map<Integer, Map<String, int[]>> rightByType = new LinkedHashMap<>();
    for (int m : ms) {
      right.put(m, new int[1]);
      rightByType.put(m, new TreeMap<>());
    }
    for (int from = 0; from < samples; from += BATCH) {
      int n = Math.min(BATCH, samples - from);
      List<Clip> clips = new ArrayList<>();
      List<Question> questions = new ArrayList<>();
      List<List<VisualTokens>> frames = new ArrayList<>();
      for (int i = from; i < from + n; i++) {
        Clip clip = testClip(world, seed, i);
        clips.add(clip);
        questions.add(asked(world, clip, seed, i));
        frames.add(encoder.encode(cameraFrames.of(clip)));
      }
      for (int m : ms) {
        List<Prompt> prompts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
          List<VisualTokens> cut = frames.get(i).stream().map(t -> t.tokens(m)).toList();
          prompts.add(
              reasoner.prompt(
                  Integer.toString(i), cut, questions.get(i).text(), Sampling.greedy(4), null));
        }
        for (Completion c : reasoner.generate(prompts)) {
          int i = Integer.parseInt(c.prompt().id());
          Question q = questions.get(i);
          boolean ok = c.text().equals(q.answer());
          answers.accept(new Answer(m, clips.get(i), q, c.text()));
          right.get(m)[0] += ok ? 1 : 0;
          int[] t = rightByType.get(m).computeIfAbsent(q.type().key(), k -> new int[2]);
          t[0] += ok ? 1 : 0;
          t[1]++;
        }
      }
      progress.accept(from + n);
    }
    Map<Integer, Score> out = new LinkedHashMap<>();
    for (int m : ms) {
      Map<String, Double> byType = new TreeMap<>();
      rightByType.get(m).forEach((k, v) -> byType.put(k, (double) v[0] / v[1]));
      out.put(m, new Score(samples, (double) right.get(m)[0] / samples, byType));
    }
    return out;
  }

  /**
   * Accuracy without looking at the frames: each question answered with its commonest answer on the
   * same test clips and questions {@link #evaluate} uses (with the same {@code samples} and {@code
   * seed}). It is what the answer priors alone give, the floor a model must beat to be reading the
   * pixels; the commonest answers are chosen on these clips, so it is slightly optimistic. No model
   * is run.
   */
  public static Score blind(SyntheticWorld world, int samples, long seed) {
    List<Question> questions = new ArrayList<>();
    Map<String, Map<String, Integer>> answers = new HashMap<>(); // question → answer → times
    for (int i = 0; i < samples; i++) {
      Question q = asked(world, testClip(world, seed, i), seed, i);
      questions.add(q);
      answers.computeIfAbsent(q.text(), k -> new HashMap<>()).merge(q.answer(), 1, Integer::sum);
    }
    Map<String, String> commonest = new HashMap<>(); // ties go to the alphabetically first answer
    answers.forEach(
        (text, seen) ->
            commonest.put(
                text,
                Collections.max(
                        seen.entrySet(),
                        Map.Entry.<String, Integer>comparingByValue()
                            .thenComparing(Map.Entry.comparingByKey(Comparator.reverseOrder())))
                    .getKey()));
    int right = 0;
    Map<String, int[]> byType = new TreeMap<>();
    for (Question q : questions) {
      boolean ok = q.answer().equals(commonest.get(q.text()));
      right += ok ? 1 : 0;
      int[] t = byType.computeIfAbsent(q.type().key(), k -> new int[2]);
      t[0] += ok ? 1 : 0;
      t[1]++;
    }
    Map<String, Double> share = new TreeMap<>();
    byType.forEach((k, v) -> share.put(k, (double) v[0] / v[1]));
    return new Score(samples, (double) right / samples, share);
  }

  /** Test clip {@code i} of an evaluation with {@code seed}. */
  static Clip testClip(SyntheticWorld world, long seed, int i) {
    return world.clip(Split.TEST.seed(seed + i));
  }

  /** The question an evaluation with {@code seed} asks about its test clip {@code i}. */
  static Question asked(SyntheticWorld world, Clip clip, long seed, int i) {
    return pick(world.questions(clip), Seeds.random(seed, i));
  }

  /** One question of a type drawn uniformly among the clip's types (as in training). */
  static Question pick(List<Question> questions, Random random) {
    Map<QuestionType, List<Question>> byType = new LinkedHashMap<>();
    for (Question q : questions) {
      byType.computeIfAbsent(q.type(), k -> new ArrayList<>()).add(q);
    }
    List<List<Question>> types = new ArrayList<>(byType.values());
    List<Question> of = types.get(random.nextInt(types.size()));
    return of.get(random.nextInt(of.size()));
  }
}
