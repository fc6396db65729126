package io.mqtstream.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import io.mqtstream.encoder.EncoderConfig;
import io.mqtstream.encoder.MqtConfig;
import io.mqtstream.encoder.MqtEncoder;
import io.mqtstream.encoder.VitConfig;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class QueryPyramidTest {
  private static final int SIDE = 8;
  private static final int P = SIDE * SIDE;

  /** The patches head {@code h} of token {@code t} looks at in {@code targets}. */
  private static Set<Integer> region(float[] targets, int tokens, int h, int t) {
    Set<Integer> out = new HashSet<>();
    for (int j = 0; j < P; j++) {
      if (targets[(h * tokens + t) * P + j] > 0) {
        out.add(j);
      }
    }
    return out;
  }

  @Test
  void tokensGoFromTheWholeFrameToSinglePatchesAndEachHeadTakesAQuarter() {
    int tokens = 64;
    float[] targets = QueryPyramid.targets(SIDE, tokens);
    for (int h = 0; h < 4; h++) {
      for (int t = 0; t < tokens; t++) {
        double sum = 0;
        for (int j = 0; j < P; j++) {
          sum += targets[(h * tokens + t) * P + j];
        }
        assertThat(sum).as("head %d token %d is a distribution", h, t).isCloseTo(1.0, within());
      }
    }
    // levels: token 0 the frame (heads: 16 patches each), tokens 1-4 quadrants (4 each), 5-20
    // 2 × 2 cells (1 each); within a token the heads' quarters are disjoint, and each level's
    // tokens together cover every patch exactly once
    int[][] levels = {{0, 1, 16}, {1, 5, 4}, {5, 21, 1}};
    for (int[] level : levels) {
      Set<Integer> covered = new HashSet<>();
      for (int t = level[0]; t < level[1]; t++) {
        for (int h = 0; h < 4; h++) {
          Set<Integer> r = region(targets, tokens, h, t);
          assertThat(r).as("token %d head %d", t, h).hasSize(level[2]);
          for (int j : r) {
            assertThat(covered.add(j)).as("patch %d seen twice in a level", j).isTrue();
          }
        }
      }
      assertThat(covered).hasSize(P);
    }
    // a quadrant token's heads lie inside the quadrant token 0's head of the same place names
    assertThat(region(targets, tokens, 0, 0))
        .containsAll(region(targets, tokens, 3, 1)); // top-left quadrant's bottom-right cell
    // the 2 × 2 windows that straddle the cells come next, and nothing is left empty
    Set<Integer> straddling = new HashSet<>();
    for (int h = 0; h < 4; h++) {
      straddling.addAll(region(targets, tokens, h, 21));
    }
    assertThat(straddling)
        .containsExactlyInAnyOrder(0 * SIDE + 1, 0 * SIDE + 2, 1 * SIDE + 1, 1 * SIDE + 2);
  }

  private static org.assertj.core.data.Offset<Double> within() {
    return org.assertj.core.data.Offset.offset(1e-5);
  }

  private static EncoderConfig encoder(int heads, MqtConfig.KeyMode keys) {
    VitConfig vit = new VitConfig(64, 8, 32, 1, 2, 2);
    return new EncoderConfig(
        "test",
        vit,
        new MqtConfig(32, 32, heads, 32, vit.patches(), 32, keys, true),
        new float[] {0.5f, 0.5f, 0.5f},
        new float[] {0.25f, 0.25f, 0.25f});
  }

  /** Per head and token, the attention's share inside its target quarter; the smallest. */
  private static float leastShareInside(MqtEncoder e, float[] targets, int tokens) {
    try (NDManager scope = e.manager().newSubManager()) {
      float[] a =
          e.positionalScores(new ParameterStore(scope, false), scope, false)
              .softmax(2)
              .toFloatArray(); // (H, M, P)
      float least = 1;
      for (int i = 0; i < 4 * tokens; i++) {
        float inside = 0;
        for (int j = 0; j < P; j++) {
          inside += targets[i * P + j] > 0 ? a[i * P + j] : 0;
        }
        least = Math.min(least, inside);
      }
      return least;
    }
  }

  @Test
  void theFitMakesEveryQueryLookAtItsRegion() {
    int tokens = 32;
    float[] targets = QueryPyramid.targets(SIDE, tokens);
    try (MqtEncoder e = MqtEncoder.create(encoder(4, MqtConfig.KeyMode.POSITIONAL), 3)) {
      float before = leastShareInside(e, targets, tokens);
      int arrays = e.manager().getManagedArrays().size();
      float mean = QueryPyramid.fit(e);
      assertThat(e.manager().getManagedArrays())
          .as("the fit's targets and Adam moments are closed with it")
          .hasSize(arrays);
      float after = leastShareInside(e, targets, tokens);
      assertThat(before).as("random queries look everywhere").isLessThan(0.5f);
      assertThat(mean).isGreaterThan(0.95f);
      assertThat(after).as("every head of every token, after the fit").isGreaterThan(0.8f);
    }
  }

  @Test
  void onlyImageFreeAttentionWithFourHeadsCanStartAsAPyramid() {
    try (MqtEncoder e = MqtEncoder.create(encoder(2, MqtConfig.KeyMode.POSITIONAL), 3)) {
      assertThatThrownBy(() -> QueryPyramid.fit(e))
          .hasMessageContaining("train.queryInit")
          .hasMessageContaining("4 heads");
    }
    try (MqtEncoder e = MqtEncoder.create(encoder(4, MqtConfig.KeyMode.CONTENT), 3)) {
      assertThatThrownBy(() -> QueryPyramid.fit(e)).hasMessageContaining("positional");
    }
  }
}
