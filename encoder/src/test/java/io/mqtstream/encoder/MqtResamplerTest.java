package io.mqtstream.encoder;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import io.mqtstream.nn.CheckpointFolder;
import io.mqtstream.nn.Checkpoints;
import io.mqtstream.nn.Engines;
import io.mqtstream.nn.Tensors;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reference MQT block against the reference code's own numbers: {@code
 * src/test/resources/reference/mqt/} holds a small random checkpoint in the real layout and the
 * outputs MQT-LLaVA's {@code Resampler} computed for it ({@code make_fixtures.py}; how each
 * deliberate layout mistake would show is in that folder's README).
 */
class MqtResamplerTest {
  private static final Path FIXTURES = Path.of("src/test/resources/reference/mqt");
  private static final String PREFIX = "model.query_abstractor";
  private static final MqtResampler.Config CONFIG = new MqtResampler.Config(16, 64, 48, 16);
  private static final float TOLERANCE = 1e-4f;

  private static MqtResampler block(NDManager manager) {
    MqtResampler block = new MqtResampler(CONFIG);
    block.initialize(manager, DataType.FLOAT32, new Shape(1, 576, 64));
    return block;
  }

  private static MqtResampler loaded(NDManager manager) throws Exception {
    MqtResampler block = block(manager);
    Map<String, Parameter> params = new LinkedHashMap<>();
    block.collect(PREFIX, params);
    Checkpoints.load(FIXTURES.resolve("query_abstractor.safetensors"), params, manager);
    return block;
  }

  private static Map<String, NDArray> cases(NDManager manager) throws Exception {
    Map<String, NDArray> byName = new LinkedHashMap<>();
    try (InputStream in = Files.newInputStream(FIXTURES.resolve("cases.safetensors"))) {
      for (NDArray t : NDList.decode(manager, in)) {
        byName.put(t.getName(), t);
      }
    }
    return byName;
  }

  private static float maxAbsDiff(NDArray a, NDArray b) {
    assertThat(a.getShape()).isEqualTo(b.getShape());
    return a.sub(b).abs().max().getFloat();
  }

  @Test
  void tokensMatchTheReferenceAtEveryM() throws Exception {
    try (NDManager manager =
        NDManager.newBaseManager(Engines.pytorch().defaultDevice(), "PyTorch")) {
      MqtResampler block = loaded(manager);
      Map<String, NDArray> cases = cases(manager);
      ParameterStore ps = new ParameterStore(manager, false);
      NDArray features = cases.get("features"); // (2, 576, 64)
      for (int m : new int[] {2, 5, 16}) {
        try (NDManager step = manager.newSubManager()) {
          NDArray x = features.duplicate();
          x.attach(step);
          NDArray tokens = block.forward(ps, x, m, 24, 24, false); // (2, m, 48)
          assertThat(maxAbsDiff(tokens, cases.get("tokens.m" + m)))
              .as("m = %d", m)
              .isLessThan(TOLERANCE);
        }
      }
    }
  }

  @Test
  void theBlockLoadsFromAShardedHuggingFaceFolderAmongOtherTensors(@TempDir Path dir)
      throws Exception {
    // shard 1: the block's tensors (as the reference wrote them); shard 2: a stranger's tensor
    Files.copy(
        FIXTURES.resolve("query_abstractor.safetensors"),
        dir.resolve("model-00001-of-00002.safetensors"));
    try (NDManager m = NDManager.newBaseManager(Engines.pytorch().defaultDevice(), "PyTorch")) {
      NDArray other = m.randomNormal(new Shape(8, 4));
      Checkpoints.saveArrays(
          dir.resolve("model-00002-of-00002.safetensors"),
          Map.of("model.layers.0.mlp.up_proj.weight", other),
          m);
    }
    StringBuilder index = new StringBuilder("{\"weight_map\": {");
    try (NDManager m = NDManager.newBaseManager(Engines.pytorch().defaultDevice(), "PyTorch")) {
      MqtResampler probe = block(m);
      Map<String, Parameter> params = new LinkedHashMap<>();
      probe.collect(PREFIX, params);
      for (String name : params.keySet()) {
        index.append('"').append(name).append("\": \"model-00001-of-00002.safetensors\", ");
      }
    }
    index.append("\"model.layers.0.mlp.up_proj.weight\": \"model-00002-of-00002.safetensors\"}}");
    Files.writeString(dir.resolve(CheckpointFolder.INDEX), index);

    try (NDManager manager =
        NDManager.newBaseManager(Engines.pytorch().defaultDevice(), "PyTorch")) {
      MqtResampler block = block(manager);
      Map<String, Parameter> params = new LinkedHashMap<>();
      block.collect(PREFIX, params);
      CheckpointFolder folder = CheckpointFolder.open(dir);
      assertThat(folder.names()).contains("model.layers.0.mlp.up_proj.weight");
      Checkpoints.loadFrom(folder, params);
      Map<String, NDArray> cases = cases(manager);
      NDArray tokens =
          block.forward(
              new ParameterStore(manager, false), cases.get("features"), 16, 24, 24, false);
      assertThat(maxAbsDiff(tokens, cases.get("tokens.m16"))).isLessThan(TOLERANCE);
    }
  }

  @Test
  void keyPositionsAreTheReferencesBicubicResizeOfTheQueryGrid() throws Exception {
    try (NDManager manager =
        NDManager.newBaseManager(Engines.pytorch().defaultDevice(), "PyTorch")) {
      MqtResampler block = loaded(manager);
      ParameterStore ps = new ParameterStore(manager, false);
      NDArray pos = ps.getValue(block.getParameters().get("pos_embed"), manager.getDevice(), false);
      NDArray keys = block.keyPositions(manager, pos, 24, 24); // (576, 64)
      assertThat(maxAbsDiff(keys, cases(manager).get("key_positions"))).isLessThan(1e-5f);
    }
  }

  @Test
  void aNewBlockBuildsTheReferencesFp16SinCosPositionsExactly() throws Exception {
    try (NDManager manager =
        NDManager.newBaseManager(Engines.pytorch().defaultDevice(), "PyTorch")) {
      MqtResampler fresh = block(manager);
      NDArray built = fresh.getParameters().get("pos_embed").getArray();
      NDArray stored = loaded(manager).getParameters().get("pos_embed").getArray();
      // the checkpoint's pos_embed is the reference's own construction, rounded to fp16
      assertThat(maxAbsDiff(built, stored)).isZero();
    }
  }

  @Test
  void theFirstMRowsOfTheMTokenOutputAreTheMTokenOutput() throws Exception {
    try (NDManager manager =
        NDManager.newBaseManager(Engines.pytorch().defaultDevice(), "PyTorch")) {
      MqtResampler block = loaded(manager);
      ParameterStore ps = new ParameterStore(manager, false);
      NDArray x = cases(manager).get("features");
      NDArray all = block.forward(ps, x, 16, 24, 24, false);
      for (int m : new int[] {1, 2, 7, 15}) {
        NDArray rows = all.get(new NDIndex(":, :" + m + ", :"));
        assertThat(maxAbsDiff(block.forward(ps, x, m, 24, 24, false), rows))
            .as("m = %d", m)
            .isLessThan(1e-5f);
      }
    }
  }

  @Test
  void aForwardLeavesNoNativeArraysBehind() throws Exception {
    try (NDManager manager =
        NDManager.newBaseManager(Engines.pytorch().defaultDevice(), "PyTorch")) {
      MqtResampler block = loaded(manager);
      NDArray x = cases(manager).get("features");
      ParameterStore ps = new ParameterStore(manager, false);
      int before = manager.getManagedArrays().size();
      for (int round = 0; round < 20; round++) {
        try (NDManager step = manager.newSubManager()) {
          NDArray input = x.duplicate();
          input.attach(step);
          float[] out = Tensors.toFloats(block.forward(ps, input, 8, 24, 24, false));
          assertThat(out).hasSize(2 * 8 * 48);
        }
      }
      assertThat(manager.getManagedArrays()).hasSize(before);
    }
  }
}
