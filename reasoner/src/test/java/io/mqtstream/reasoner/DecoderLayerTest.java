package io.mqtstream.reasoner;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import io.mqtstream.nn.Engines;
import io.mqtstream.nn.Rope;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class DecoderLayerTest {
  private static final int D = 32;
  private static final int R = 3;
  private static final int SETS = 3;
  private static final int L = 5;

  /**
   * Per-budget adapters: row b of a layer's output is the shared layer's plus RMSNorm(h) · down[s]
   * · up[s] for its own set s, computed here element by element from the weights (the attention's
   * output projection zeroed, so the MLP's input h is the layer's input x).
   */
  @Test
  void eachRowAddsItsOwnSetsAdapterOfTheMlpsNormedInput() {
    LmConfig config =
        ReasonerTestSupport.config(11).withNormBudgets(List.of(1, 4, 8)).withAdapterRank(R);
    Random random = new Random(3);
    try (NDManager manager = NDManager.newBaseManager(Engines.pytorch().getEngineName())) {
      DecoderLayer layer = new DecoderLayer(config);
      Map<String, Parameter> params = initialized(layer, manager);
      NDArray o = params.get("l.attn.o_proj.weight").getArray();
      o.subi(o); // attention adds nothing: the MLP reads x
      float[][][] down = new float[SETS][D][R];
      float[][][] up = new float[SETS][R][D];
      float[] flatDown = new float[SETS * D * R];
      float[] flatUp = new float[SETS * R * D];
      for (int s = 0; s < SETS; s++) {
        for (int i = 0; i < D; i++) {
          for (int k = 0; k < R; k++) {
            down[s][i][k] = (float) random.nextGaussian();
            up[s][k][i] = (float) random.nextGaussian() * 0.1f;
            flatDown[(s * D + i) * R + k] = down[s][i][k];
            flatUp[(s * R + k) * D + i] = up[s][k][i];
          }
        }
      }
      params.get("l.mlp." + DecoderLayer.ADAPTER_DOWN).getArray().set(flatDown);
      params.get("l.mlp." + DecoderLayer.ADAPTER_UP).getArray().set(flatUp);
      float[] gamma = params.get("l.mlp_norm.weight").getArray().toFloatArray();
      int[] setOf = {2, 0, 1, 2};
      int b = setOf.length;
      float[] xs = gaussians(random, b * L * D, 1);
      NDArray x = manager.create(xs, new Shape(b, L, D));
      ParameterStore ps = new ParameterStore(manager, false);
      float[] shared = layer.forward(ps, new NDList(x), false).singletonOrThrow().toFloatArray();
      NDArray sets = manager.create(java.util.Arrays.stream(setOf).asLongStream().toArray());
      float[] adapted =
          layer
              .apply(
                  ps,
                  x,
                  Rope.NONE,
                  DecoderLm.causal(manager, L, 0),
                  null,
                  null,
                  sets,
                  sets,
                  false,
                  false)
              .hidden()
              .toFloatArray();
      float eps = 1e-6f; // RMSNorm's default ε
      double worst = 0;
      double largest = 0;
      for (int r = 0; r < b; r++) {
        for (int p = 0; p < L; p++) {
          int at = (r * L + p) * D;
          double square = 0;
          for (int i = 0; i < D; i++) {
            square += xs[at + i] * xs[at + i];
          }
          double scale = 1 / Math.sqrt(square / D + eps);
          double[] low = new double[R];
          for (int k = 0; k < R; k++) {
            for (int i = 0; i < D; i++) {
              low[k] += xs[at + i] * scale * gamma[i] * down[setOf[r]][i][k];
            }
          }
          for (int j = 0; j < D; j++) {
            double add = 0;
            for (int k = 0; k < R; k++) {
              add += low[k] * up[setOf[r]][k][j];
            }
            largest = Math.max(largest, Math.abs(add));
            worst = Math.max(worst, Math.abs(adapted[at + j] - shared[at + j] - add));
          }
        }
      }
      assertThat(largest).as("what the adapters add").isGreaterThan(0.1);
      assertThat(worst).isLessThan(1e-4);
    }
  }

  /**
   * Per-budget LoRA: row b of a layer's output is what a layer without LoRA gives when each of its
   * projections' weights W (out, in) is merged with the row's own set's update, W + (A[s] · B[s])ᵀ,
   * the merge computed here element by element from the weights (LoRA's merged form, against the
   * layer's side path).
   */
  @Test
  void eachRowIsTheLayerWithItsOwnSetsUpdateMergedIntoEveryProjection() {
    LmConfig plainConfig = ReasonerTestSupport.config(11).withNormBudgets(List.of(1, 4, 8));
    LmConfig config = plainConfig.withLoraRank(R);
    Random random = new Random(5);
    try (NDManager manager = NDManager.newBaseManager(Engines.pytorch().getEngineName())) {
      DecoderLayer layer = new DecoderLayer(config);
      Map<String, Parameter> params = initialized(layer, manager);
      DecoderLayer plain = new DecoderLayer(plainConfig);
      Map<String, Parameter> plainParams = initialized(plain, manager);
      assertThat(params.keySet()).containsAll(plainParams.keySet());
      List<String> projections =
          params.keySet().stream()
              .filter(n -> n.endsWith("." + DecoderLayer.LORA_A))
              .map(n -> n.substring(0, n.length() - DecoderLayer.LORA_A.length() - 1))
              .toList();
      assertThat(projections).hasSize(7); // q, k, v, o, gate, up, down
      for (String p : projections) { // B away from zero: every update adds something
        NDArray b = params.get(p + "." + DecoderLayer.LORA_B).getArray();
        b.set(gaussians(random, Math.toIntExact(b.size()), 0.2f));
      }
      int[] setOf = {1, 2, 0, 1};
      int n = setOf.length;
      float[] xs = gaussians(random, n * L * D, 1);
      NDArray x = manager.create(xs, new Shape(n, L, D));
      NDArray sets = manager.create(java.util.Arrays.stream(setOf).asLongStream().toArray());
      NDArray mask = DecoderLm.causal(manager, L, 0);
      ParameterStore ps = new ParameterStore(manager, false);
      float[] updated =
          layer
              .apply(ps, x, Rope.NONE, mask, null, null, sets, sets, false, false)
              .hidden()
              .toFloatArray();
      float[] unmerged = // the shared weights alone
          layer
              .apply(ps, x, Rope.NONE, mask, null, null, null, null, false, false)
              .hidden()
              .toFloatArray();
      double worst = 0;
      double largest = 0;
      for (int s = 0; s < SETS; s++) {
        for (var e : plainParams.entrySet()) {
          float[] w = params.get(e.getKey()).getArray().toFloatArray();
          String p = e.getKey().substring(0, e.getKey().length() - ".weight".length());
          if (projections.contains(p)) {
            w =
                merged(
                    w,
                    params.get(p + "." + DecoderLayer.LORA_A).getArray(),
                    params.get(p + "." + DecoderLayer.LORA_B).getArray(),
                    s);
          }
          e.getValue().getArray().set(w);
        }
        float[] expected =
            plain
                .apply(ps, x, Rope.NONE, mask, null, null, sets, sets, false, false)
                .hidden()
                .toFloatArray();
        for (int r = 0; r < n; r++) {
          if (setOf[r] != s) {
            continue;
          }
          for (int i = r * L * D; i < (r + 1) * L * D; i++) {
            largest = Math.max(largest, Math.abs(updated[i] - unmerged[i]));
            worst = Math.max(worst, Math.abs(updated[i] - expected[i]));
          }
        }
      }
      assertThat(largest).as("what the updates change").isGreaterThan(0.1);
      assertThat(worst).isLessThan(1e-4);
    }
  }

  /**
   * A set holds an update once any of its LoRA B maps or adapter up maps is non-zero, and only that
   * set: the rows of the others, still at zero, may skip the low-rank path. Every B starts at zero.
   */
  @Test
  void aSetHoldsAnUpdateOnceOneOfItsZeroStartingMapsMoves() {
    LmConfig config =
        ReasonerTestSupport.config(11)
            .withNormBudgets(List.of(1, 4, 8))
            .withLoraRank(R)
            .withAdapterRank(R);
    try (NDManager manager = NDManager.newBaseManager(Engines.pytorch().getEngineName())) {
      DecoderLayer layer = new DecoderLayer(config);
      Map<String, Parameter> params = initialized(layer, manager);
      assertThat(layer.updatedSets()).as("at the start").containsExactly(false, false, false);
      NDArray down = params.get("l.mlp.down_proj." + DecoderLayer.LORA_B).getArray(); // (3, R, D)
      float[] one = new float[Math.toIntExact(down.size())];
      one[(2 * R + R - 1) * D + D - 1] = 1e-3f; // set 2's last entry
      down.set(one);
      assertThat(layer.updatedSets()).containsExactly(false, false, true);
      down.set(new float[one.length]);
      NDArray up = params.get("l.mlp." + DecoderLayer.ADAPTER_UP).getArray(); // (3, R, D)
      float[] first = new float[Math.toIntExact(up.size())];
      first[0] = -1e-3f; // set 0's first entry
      up.set(first);
      assertThat(layer.updatedSets()).containsExactly(true, false, false);
    }
  }

  /** Initializes {@code layer} for width D and returns its parameters under the prefix "l". */
  private static Map<String, Parameter> initialized(DecoderLayer layer, NDManager manager) {
    layer.initialize(manager, DataType.FLOAT32, new Shape(1, 1, D));
    Map<String, Parameter> params = new LinkedHashMap<>();
    layer.collect("l", params);
    return params;
  }

  private static float[] gaussians(Random random, int n, float scale) {
    float[] values = new float[n];
    for (int i = 0; i < n; i++) {
      values[i] = (float) random.nextGaussian() * scale;
    }
    return values;
  }

  /** W (out, in) + (A[s] (in, r) · B[s] (r, out))ᵀ, element by element. */
  private static float[] merged(float[] w, NDArray a, NDArray b, int s) {
    long in = a.getShape().get(1);
    long r = a.getShape().get(2);
    long out = b.getShape().get(2);
    float[] as = a.toFloatArray();
    float[] bs = b.toFloatArray();
    float[] m = w.clone();
    for (int o = 0; o < out; o++) {
      for (int i = 0; i < in; i++) {
        double delta = 0;
        for (int k = 0; k < r; k++) {
          delta += as[(int) ((s * in + i) * r + k)] * bs[(int) ((s * r + k) * out + o)];
        }
        m[(int) (o * in + i)] += (float) delta;
      }
    }
    return m;
  }
}
