package io.mqtstream.encoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import io.mqtstream.nn.Engines;
import io.mqtstream.nn.SinCos2d;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MatryoshkaQueryTransformerTest {
  private static MqtConfig small(MqtConfig.KeyMode mode, boolean tokenPositions) {
    return new MqtConfig(16, 32, 4, 24, 9, 40, mode, tokenPositions);
  }

  @ParameterizedTest
  @CsvSource({"POSITIONAL,false", "POSITIONAL,true", "CONTENT,false", "CONTENT,true"})
  void firstMTokensAreTheFirstMRowsOfTheFullOutput(MqtConfig.KeyMode mode, boolean tokenPositions) {
    MqtConfig c = small(mode, tokenPositions);
    try (NDManager manager =
        NDManager.newBaseManager(Engines.pytorch().defaultDevice(), "PyTorch")) {
      MatryoshkaQueryTransformer mqt = MqtTestSupport.initialized(manager, c);
      ParameterStore ps = new ParameterStore(manager, false);
      NDArray x = MqtTestSupport.randomFeatures(manager, 3, c);
      NDArray full = mqt.forward(ps, x, c.maxTokens(), false); // (3, 16, 40)
      assertThat(full.getShape()).isEqualTo(new Shape(3, 16, 40));
      for (int m : new int[] {1, 2, 5, 8, 15, 16}) {
        NDArray partial = mqt.forward(ps, x, m, false);
        assertThat(partial.getShape()).isEqualTo(new Shape(3, m, 40));
        NDArray rows = full.get(new NDIndex(":, :" + m + ", :"));
        assertThat(maxAbsDiff(partial, rows)).as("m=%d", m).isLessThan(1e-5f);
      }
    }
  }

  @Test
  void trainingAtMTouchesOnlyTheFirstMQueries() {
    MqtConfig c = small(MqtConfig.KeyMode.CONTENT, true);
    int m = 6;
    try (NDManager manager =
        NDManager.newBaseManager(Engines.pytorch().defaultDevice(), "PyTorch")) {
      MatryoshkaQueryTransformer mqt = MqtTestSupport.initialized(manager, c);
      for (Parameter p : mqt.getParameters().values()) {
        p.getArray().setRequiresGradient(true);
      }
      ParameterStore ps = new ParameterStore(manager, false);
      NDArray x = MqtTestSupport.randomFeatures(manager, 2, c);
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        NDArray loss = mqt.forward(ps, x, m, true).square().mean();
        gc.backward(loss);
      }
      NDArray grad = mqt.latentQueries().getArray().getGradient(); // (M, D)
      float[] rowNorms = grad.abs().sum(new int[] {1}).toFloatArray();
      for (int i = 0; i < c.maxTokens(); i++) {
        if (i < m) {
          assertThat(rowNorms[i]).as("query %d is used", i).isGreaterThan(0f);
        } else {
          assertThat(rowNorms[i]).as("query %d is not used", i).isEqualTo(0f);
        }
      }
    }
  }

  /**
   * The whole MQT recomputed from its parameters with plain NDArray ops, head by head, with an
   * explicit softmax: (B=2, M=4, P=6, heads=2).
   */
  @ParameterizedTest
  @CsvSource({"POSITIONAL,false", "POSITIONAL,true", "CONTENT,false", "CONTENT,true"})
  void matchesAPlainReferenceComputation(MqtConfig.KeyMode mode, boolean tokenPositions) {
    MqtConfig c = new MqtConfig(4, 8, 2, 12, 6, 4, mode, tokenPositions);
    try (NDManager manager =
        NDManager.newBaseManager(Engines.pytorch().defaultDevice(), "PyTorch")) {
      MatryoshkaQueryTransformer mqt = MqtTestSupport.initialized(manager, c);
      Map<String, NDArray> w = new LinkedHashMap<>();
      Map<String, Parameter> named = new LinkedHashMap<>();
      mqt.collect("mqt", named);
      named.forEach((k, v) -> w.put(k, v.getArray()));
      NDArray x = MqtTestSupport.randomFeatures(manager, 2, c); // (2, 6, 12)

      NDArray kv =
          layerNorm(x.matMul(w.get("mqt.kv_proj.weight").transpose()), w, "mqt.ln_kv"); // (2,6,8)
      NDArray qPos = manager.create(SinCos2d.embed(8, 2, 2), new Shape(4, 8));
      NDArray kPos = manager.create(SinCos2d.embed(8, 2, 3), new Shape(6, 8));
      NDArray q = layerNorm(w.get("mqt.latent_queries"), w, "mqt.ln_q").add(qPos); // (4, 8)
      NDArray keys =
          mode == MqtConfig.KeyMode.CONTENT ? kv.add(kPos) : kPos.expandDims(0).repeat(0, 2);
      NDArray qp = affine(q, w, "mqt.attn.q_proj"); // (4, 8)
      NDArray kp = affine(keys, w, "mqt.attn.k_proj"); // (2, 6, 8)
      NDArray vp = affine(kv, w, "mqt.attn.v_proj"); // (2, 6, 8)
      NDList perImage = new NDList();
      for (int b = 0; b < 2; b++) {
        NDList perHead = new NDList();
        for (int h = 0; h < 2; h++) {
          NDIndex cols = new NDIndex(":, " + (4 * h) + ":" + (4 * h + 4));
          NDArray qh = qp.get(cols); // (4, 4)
          NDArray kh = kp.get(b).get(cols); // (6, 4)
          NDArray vh = vp.get(b).get(cols); // (6, 4)
          NDArray scores = qh.matMul(kh.transpose()).div(Math.sqrt(4)); // (4, 6)
          NDArray e = scores.sub(scores.max(new int[] {1}, true)).exp();
          perHead.add(e.div(e.sum(new int[] {1}, true)).matMul(vh)); // (4, 4)
        }
        perImage.add(NDArrays.concat(perHead, 1)); // (4, 8)
      }
      NDArray attended = NDArrays.stack(perImage); // (2, 4, 8)
      NDArray out = layerNorm(affine(attended, w, "mqt.attn.out_proj"), w, "mqt.ln_post");
      NDArray expected = out.matMul(w.get("mqt.proj.weight").transpose()); // (2, 4, 4)
      if (tokenPositions) { // each query's 2×2-grid position, width 4, on its token
        expected = expected.add(manager.create(SinCos2d.embed(4, 2, 2), new Shape(4, 4)));
      }

      NDArray actual = mqt.forward(new ParameterStore(manager, false), x, 4, false);
      assertThat(maxAbsDiff(actual, expected)).isLessThan(1e-5f);
    }
  }

  @Test
  void sinCosPositionsFollowTheFormula() {
    float[] e =
        SinCos2d.embed(8, 2, 3); // 6 cells of width 8: [sin r, cos r, sin c, cos c] × 2 freqs
    assertThat(e).hasSize(48);
    int cell = 1 * 3 + 2; // row 1, col 2
    assertThat(e[cell * 8]).isCloseTo((float) Math.sin(1), within(1e-6f));
    assertThat(e[cell * 8 + 1]).isCloseTo((float) Math.sin(1 / 100.0), within(1e-6f));
    assertThat(e[cell * 8 + 2]).isCloseTo((float) Math.cos(1), within(1e-6f));
    assertThat(e[cell * 8 + 4]).isCloseTo((float) Math.sin(2), within(1e-6f));
    assertThat(e[cell * 8 + 6]).isCloseTo((float) Math.cos(2), within(1e-6f));
    assertThat(SinCos2d.grid(576)).containsExactly(24, 24);
    assertThat(SinCos2d.grid(6)).containsExactly(2, 3);
  }

  private static NDArray affine(NDArray x, Map<String, NDArray> w, String name) {
    return x.matMul(w.get(name + ".weight").transpose()).add(w.get(name + ".bias"));
  }

  private static NDArray layerNorm(NDArray x, Map<String, NDArray> w, String name) {
    NDArray mean = x.mean(new int[] {-1}, true);
    NDArray centered = x.sub(mean);
    NDArray var = centered.square().mean(new int[] {-1}, true);
    return centered
        .div(var.add(1e-5f).sqrt())
        .mul(w.get(name + ".weight"))
        .add(w.get(name + ".bias"));
  }

  static float maxAbsDiff(NDArray a, NDArray b) {
    return a.sub(b).abs().max().getFloat();
  }

  private static final class NDArrays {
    static NDArray concat(NDList l, int axis) {
      return ai.djl.ndarray.NDArrays.concat(l, axis);
    }

    static NDArray stack(NDList l) {
      return ai.djl.ndarray.NDArrays.stack(l);
    }
  }
}
