package io.mqtstream.world;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SyntheticWorldTest {
  private final SyntheticWorld world = new SyntheticWorld(WorldConfig.tiny());

  @Test
  void aSeedGivesTheSameClipPixelsAndQuestionsEveryTime() {
    for (long seed : new long[] {0, 7, Split.TEST.seed(123)}) {
      Clip a = world.clip(seed);
      Clip b = new SyntheticWorld(WorldConfig.tiny()).clip(seed);
      assertThat(a).isEqualTo(b);
      for (int t = 0; t < a.frames(); t++) {
        assertThat(bytes(a.render(t))).isEqualTo(bytes(b.render(t)));
      }
      assertThat(world.questions(a)).isEqualTo(world.questions(b));
    }
    assertThat(bytes(world.clip(1).render(0))).isNotEqualTo(bytes(world.clip(2).render(0)));
  }

  @Test
  void answersAgreeWithTheSceneRecomputedFromTheObjects() {
    Map<QuestionType, Integer> asked = new EnumMap<>(QuestionType.class);
    for (long i = 0; i < 300; i++) {
      Clip clip = world.clip(Split.VALIDATION.seed(i));
      for (int last = 0; last < clip.frames(); last++) {
        for (Question q : world.questions(clip, last)) {
          assertThat(q.answer())
              .as(q.text() + " (seed %d, frame %d)", clip.seed(), last)
              .isEqualTo(recompute(clip, last, q));
          asked.merge(q.type(), 1, Integer::sum);
        }
      }
    }
    assertThat(asked.keySet())
        .as("every type is asked")
        .containsExactlyInAnyOrder(QuestionType.values());
  }

  @Test
  void aSubjectIsTheOneObjectOfTheFrameTheQuestionsWordsName() {
    int named = 0;
    for (long i = 0; i < 300; i++) {
      Clip clip = world.clip(Split.VALIDATION.seed(i));
      for (int last = 0; last < clip.frames(); last++) {
        int t = last;
        List<SceneObject> now = clip.objects().stream().filter(o -> o.visibleAt(t)).toList();
        for (Question q : world.questions(clip, last)) {
          String[] w = q.text().replace("?", "").split(" ");
          List<SceneObject> fit =
              switch (q.type()) {
                case EXISTS -> matching(now, w[3], w[4]);
                case COLOUR_OF -> now.stream().filter(o -> o.shape().word().equals(w[4])).toList();
                case POSITION -> matching(now, w[2], w[3]);
                case DIRECTION -> matching(now, w[4], w[5]);
                default -> List.of();
              };
          assertThat(q.subject())
              .as(q.text() + " (seed %d, frame %d)", clip.seed(), last)
              .isEqualTo(fit.size() == 1 ? fit.get(0) : null);
          named += q.subject() != null ? 1 : 0;
        }
      }
    }
    assertThat(named).as("questions with a subject").isPositive();
  }

  private static List<SceneObject> matching(List<SceneObject> now, String colour, String shape) {
    return now.stream()
        .filter(o -> o.colour().word().equals(colour) && o.shape().word().equals(shape))
        .toList();
  }

  /** The answer worked out here from the object list alone, by reading the question's words. */
  private static String recompute(Clip clip, int last, Question q) {
    List<SceneObject> now = new ArrayList<>();
    for (SceneObject o : clip.objects()) {
      if (last >= o.appears() && last < o.leaves()) {
        now.add(o);
      }
    }
    String text = q.text();
    String[] w = text.replace("?", "").split(" ");
    String[] numbers = {
      "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"
    };
    switch (q.type()) {
      case EXISTS:
        {
          String colour = w[3];
          String shape = w[4];
          return now.stream()
                  .anyMatch(o -> o.colour().word().equals(colour) && o.shape().word().equals(shape))
              ? "yes"
              : "no";
        }
      case COLOUR_OF:
        {
          String shape = w[4];
          List<SceneObject> of = now.stream().filter(o -> o.shape().word().equals(shape)).toList();
          assertThat(of).hasSize(1);
          return of.get(0).colour().word();
        }
      case COUNT_ALL:
        return numbers[now.size()];
      case COUNT_SHAPE:
        return numbers[
            (int) now.stream().filter(o -> (o.shape().word() + "s").equals(w[2])).count()];
      case COUNT_COLOUR:
        return numbers[(int) now.stream().filter(o -> o.colour().word().equals(w[2])).count()];
      case POSITION:
        {
          SceneObject o = find(now, w[2], w[3]);
          double c = clip.imageSize() / 2.0;
          return text.contains("left or the right")
              ? (o.x() + o.vx() * last < c ? "left" : "right")
              : (o.y() + o.vy() * last < c ? "top" : "bottom");
        }
      case DIRECTION:
        {
          SceneObject o = find(now, w[4], w[5]);
          if (o.vx() == 0 && o.vy() == 0) {
            return "still";
          }
          return o.vx() > 0 ? "right" : o.vx() < 0 ? "left" : o.vy() > 0 ? "down" : "up";
        }
      case APPEARED:
        return clip.objects().stream().anyMatch(o -> o.appears() > 0 && o.appears() <= last)
            ? "yes"
            : "no";
      default:
        throw new AssertionError(q);
    }
  }

  private static SceneObject find(List<SceneObject> now, String colour, String shape) {
    return now.stream()
        .filter(o -> o.colour().word().equals(colour) && o.shape().word().equals(shape))
        .findFirst()
        .orElseThrow();
  }

  @Test
  void objectsStayInsideTheFrameAndTheColoursAreWhereTheSceneSaysTheyAre() {
    for (long i = 0; i < 50; i++) {
      Clip clip = world.clip(Split.TRAIN.seed(i));
      for (int t = 0; t < clip.frames(); t++) {
        BufferedImage img = clip.render(t);
        for (SceneObject o : clip.visibleAt(t)) {
          double r = o.radius(clip.imageSize());
          assertThat(o.x(t)).isBetween(r - 1e-9, clip.imageSize() - r + 1e-9);
          assertThat(o.y(t)).isBetween(r - 1e-9, clip.imageSize() - r + 1e-9);
        }
        // Objects never overlap, so each one's centre pixel shows its own colour.
        for (SceneObject o : clip.visibleAt(t)) {
          Color c = new Color(img.getRGB((int) Math.round(o.x(t)), (int) Math.round(o.y(t))));
          assertThat(c)
              .as("%s at frame %d of clip %d", o.name(), t, clip.seed())
              .isEqualTo(o.colour().rgb());
        }
      }
    }
  }

  @Test
  void consecutiveSeedsGiveIndependentLookingClips() {
    int[] objects = new int[WorldConfig.tiny().maxObjects() + 1];
    for (long i = 0; i < 400; i++) {
      objects[world.clip(Split.TEST.seed(i)).objects().size()]++;
    }
    // 1..4 objects, each about a quarter of the clips (java.util.Random on raw consecutive seeds
    // gave only 2 and 3).
    for (int n = 1; n <= 4; n++) {
      assertThat(objects[n]).as("clips with %d objects", n).isBetween(60, 140);
    }
  }

  @Test
  void splitsUseDisjointSeedRanges() {
    assertThat(Split.TRAIN.seed(Split.SIZE - 1)).isLessThan(Split.VALIDATION.seed(0));
    assertThat(Split.VALIDATION.seed(Split.SIZE - 1)).isLessThan(Split.TEST.seed(0));
    assertThatThrownBy(() -> Split.TRAIN.seed(Split.SIZE))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theVocabularyCoversEveryQuestionAnswerAndDescription() {
    List<String> vocab = SyntheticWorld.vocabulary();
    for (long i = 0; i < 100; i++) {
      Clip clip = world.clip(Split.TRAIN.seed(i));
      for (Question q : world.questions(clip)) {
        for (String word : (q.text().replace("?", " ?") + " " + q.answer()).split("\\s+")) {
          assertThat(vocab).as(q.text()).contains(word);
        }
      }
      for (String word : world.describe(clip, clip.frames() - 1).split(" ")) {
        assertThat(vocab).contains(word);
      }
    }
  }

  private static byte[] bytes(BufferedImage img) {
    return ((DataBufferByte) img.getRaster().getDataBuffer()).getData();
  }

  @Test
  void theObjectMapNamesTheObjectWhoseColourEachRenderedPixelHas() {
    int objectPixels = 0;
    for (long i = 0; i < 50; i++) {
      Clip clip = world.clip(Split.VALIDATION.seed(i));
      for (int t = 0; t < clip.frames(); t++) {
        BufferedImage img = clip.render(t);
        int[] map = clip.objectMap(t);
        for (int y = 0; y < clip.imageSize(); y++) {
          for (int x = 0; x < clip.imageSize(); x++) {
            int k = map[y * clip.imageSize() + x];
            Color pixel = new Color(img.getRGB(x, y));
            if (k < 0) {
              // background: never one of the objects' colours (they are far from the greys)
              for (Colour c : Colour.values()) {
                assertThat(pixel)
                    .as("seed %d frame %d (%d,%d)", clip.seed(), t, x, y)
                    .isNotEqualTo(c.rgb());
              }
            } else {
              SceneObject o = clip.objects().get(k);
              assertThat(o.visibleAt(t)).isTrue();
              assertThat(pixel)
                  .as("seed %d frame %d (%d,%d)", clip.seed(), t, x, y)
                  .isEqualTo(o.colour().rgb());
              objectPixels++;
            }
          }
        }
      }
    }
    assertThat(objectPixels).as("objects were drawn").isGreaterThan(10_000);
  }
}
