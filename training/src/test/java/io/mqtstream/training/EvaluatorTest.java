package io.mqtstream.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.mqtstream.world.Question;
import io.mqtstream.world.QuestionType;
import io.mqtstream.world.SyntheticWorld;
import io.mqtstream.world.WorldConfig;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvaluatorTest {

  @Test
  void scoresEveryClipAtEveryMAndIsRepeatable(@TempDir Path dir) throws Exception {
    TrainConfig c = TrainerTest.tiny(6);
    try (Trainer t = Trainer.create(c, dir)) {
      for (int i = 0; i < 6; i++) {
        t.step();
      }
      Evaluator e = new Evaluator(t.encoder(), t.reasoner(), new SyntheticWorld(c.world()));
      int[] clips = {0};
      Map<Integer, Evaluator.Score> a =
          e.evaluate(new int[] {2, 8}, 40, 7, done -> clips[0] = done);
      List<Evaluator.Answer> answers = new java.util.ArrayList<>();
      Map<Integer, Evaluator.Score> b =
          e.evaluate(new int[] {2, 8}, 40, 7, done -> {}, answers::add);
      assertThat(clips[0]).isEqualTo(40);
      assertThat(a.keySet()).containsExactly(2, 8);
      assertThat(a).isEqualTo(b);
      for (Evaluator.Score s : a.values()) {
        assertThat(s.samples()).isEqualTo(40);
        // the per-type books add up to the overall one: right answers per type, weighted by how
        // many questions of each type the 40 clips drew, sum to the overall right answers
        Map<String, Integer> asked = new java.util.HashMap<>();
        SyntheticWorld world = new SyntheticWorld(c.world());
        for (int i = 0; i < 40; i++) {
          Question q = Evaluator.asked(world, Evaluator.testClip(world, 7, i), 7, i);
          asked.merge(q.type().key(), 1, Integer::sum);
        }
        assertThat(s.byType().keySet()).isEqualTo(asked.keySet());
        double right = 0;
        for (var type : s.byType().entrySet()) {
          double n = asked.get(type.getKey());
          assertThat(type.getValue() * n)
              .as(type.getKey())
              .isCloseTo(Math.rint(type.getValue() * n), within(1e-9));
          right += type.getValue() * n;
        }
        assertThat(right).isCloseTo(s.accuracy() * 40, within(1e-9));
      }
      // every answer is told once per m, to the question the clip was asked, and the wrong ones
      // are what the accuracy leaves
      for (int m : new int[] {2, 8}) {
        List<Evaluator.Answer> at = answers.stream().filter(x -> x.m() == m).toList();
        assertThat(at).hasSize(40);
        SyntheticWorld world = new SyntheticWorld(c.world());
        assertThat(at.stream().map(x -> x.question()).collect(java.util.stream.Collectors.toSet()))
            .containsAll(
                java.util.stream.IntStream.range(0, 40)
                    .mapToObj(i -> Evaluator.asked(world, Evaluator.testClip(world, 7, i), 7, i))
                    .toList());
        // and each answer names the clip its question was asked of
        Map<io.mqtstream.world.Clip, Question> askedOf = new java.util.HashMap<>();
        for (int i = 0; i < 40; i++) {
          io.mqtstream.world.Clip clip = Evaluator.testClip(world, 7, i);
          askedOf.put(clip, Evaluator.asked(world, clip, 7, i));
        }
        for (Evaluator.Answer x : at) {
          assertThat(askedOf.get(x.clip())).isEqualTo(x.question());
        }
        long wrong = at.stream().filter(x -> !x.given().equals(x.question().answer())).count();
        assertThat(wrong).isEqualTo(Math.round((1 - a.get(m).accuracy()) * 40));
      }
    }
  }

  @Test
  void blindAnswersEachQuestionWithItsCommonestAnswer() {
    // one object in every clip: "how many shapes are there?" is always "one", known without looking
    WorldConfig one =
        new WorldConfig(64, 4, 1, 1, 0.6, 0.0, 0.3, EnumSet.of(QuestionType.COUNT_ALL));
    Evaluator.Score always = Evaluator.blind(new SyntheticWorld(one), 400, 5);
    assertThat(always.accuracy()).isEqualTo(1.0);
    assertThat(always.byType()).containsOnlyKeys("count_all");
    // "is there a red circle?": "no" is every such question's commonest answer with 1-4 objects
    // among 12 colour-shape pairs, so answering blind is right exactly when the answer is "no"
    WorldConfig tiny = WorldConfig.tiny();
    SyntheticWorld exists =
        new SyntheticWorld(
            new WorldConfig(
                tiny.imageSize(),
                tiny.frames(),
                tiny.minObjects(),
                tiny.maxObjects(),
                tiny.moving(),
                tiny.appearing(),
                tiny.checkered(),
                EnumSet.of(QuestionType.EXISTS)));
    int no = 0;
    for (int i = 0; i < 400; i++) {
      no +=
          Evaluator.asked(exists, Evaluator.testClip(exists, 5, i), 5, i).answer().equals("no")
              ? 1
              : 0;
    }
    Evaluator.Score blind = Evaluator.blind(exists, 400, 5);
    assertThat(blind.accuracy()).isEqualTo(no / 400.0).isLessThan(1.0);
  }

  @Test
  void aQuestionsTypeIsDrawnUniformlyHoweverManyQuestionsATypeHas() {
    List<Question> questions = new java.util.ArrayList<>();
    for (int i = 0; i < 20; i++) {
      questions.add(new Question(QuestionType.COUNT_COLOUR, "how many of colour " + i + "?", "1"));
    }
    questions.add(new Question(QuestionType.COUNT_ALL, "how many shapes are there?", "3"));
    questions.add(new Question(QuestionType.APPEARED, "did something appear?", "no"));
    Map<QuestionType, Integer> drawn = new java.util.EnumMap<>(QuestionType.class);
    java.util.Random random = new java.util.Random(3);
    for (int i = 0; i < 3000; i++) {
      drawn.merge(Evaluator.pick(questions, random).type(), 1, Integer::sum);
    }
    // a third each (1,000 ± 4 standard deviations of about 26), not 20/22 for the big type
    assertThat(drawn.values()).allSatisfy(n -> assertThat(n).isBetween(895, 1105));
  }
}
