package io.mqtstream.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * PyTorch-pickle checkpoints ({@code pytorch_model*.bin}) read without Python, against checkpoints
 * {@code torch.save} itself wrote ({@code src/test/resources/reference/torch-bin}, made by its
 * {@code make_fixtures.py} with torch 1.13 and torch 2.13) and their values as float32.
 */
class TorchCheckpointTest {
  private static final Path FIXTURES = Path.of("src/test/resources/reference/torch-bin");

  private static Map<String, NDArray> expected(NDManager manager) throws IOException {
    Map<String, NDArray> out = new LinkedHashMap<>();
    try (InputStream in = Files.newInputStream(FIXTURES.resolve("expected.safetensors"))) {
      for (NDArray t : NDList.decode(manager, in)) {
        out.put(t.getName(), t);
      }
    }
    return out;
  }

  @ParameterizedTest
  @ValueSource(strings = {"torch113", "torch213"})
  void shardedPicklesGiveTorchsValuesExactly(String made) throws IOException {
    CheckpointFolder folder = CheckpointFolder.open(FIXTURES.resolve(made));
    try (NDManager manager =
        NDManager.newBaseManager(Engines.pytorch().defaultDevice(), "PyTorch")) {
      Map<String, NDArray> expected = expected(manager);
      assertThat(folder.names()).containsExactlyInAnyOrderElementsOf(expected.keySet());
      for (Map.Entry<String, NDArray> e : expected.entrySet()) {
        assertThat(folder.shape(e.getKey()))
            .as(e.getKey())
            .containsExactly(e.getValue().getShape().getShape());
        assertThat(folder.floats(e.getKey()))
            .as("%s (F32, F16, BF16, views of one storage at offsets 8 and 24)", e.getKey())
            .containsExactly(e.getValue().toFloatArray());
      }
    }
  }

  @Test
  void aNonContiguousTensorIsRefusedByName() {
    assertThatThrownBy(() -> CheckpointFolder.open(FIXTURES.resolve("strided")))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("tensor t is not contiguous");
  }

  @Test
  void aPickleThatCallsAnythingButTheTensorRebuildersIsRefused() {
    // PROTO 2, GLOBAL os.system, BINUNICODE "echo pwned", TUPLE1, REDUCE, STOP
    ByteArrayOutputStream p = new ByteArrayOutputStream();
    p.write(0x80);
    p.write(2);
    p.writeBytes("cos\nsystem\n".getBytes(StandardCharsets.US_ASCII));
    byte[] arg = "echo pwned".getBytes(StandardCharsets.UTF_8);
    p.write('X');
    p.writeBytes(new byte[] {(byte) arg.length, 0, 0, 0});
    p.writeBytes(arg);
    p.write(0x85);
    p.write('R');
    p.write('.');
    assertThatThrownBy(() -> TorchPickle.stateDict(p.toByteArray(), "evil.bin"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("refuses to call os.system");
  }

  @Test
  void truncatedPicklesFailAsMalformedNotWithAnotherException() {
    byte[] whole;
    try {
      java.util.zip.ZipFile zip =
          new java.util.zip.ZipFile(
              FIXTURES.resolve("torch113/pytorch_model-00001-of-00002.bin").toFile());
      var entry =
          zip.stream().filter(e -> e.getName().endsWith("data.pkl")).findFirst().orElseThrow();
      whole = zip.getInputStream(entry).readAllBytes();
      zip.close();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
    for (int cut = 1; cut < whole.length; cut += 7) {
      byte[] part = java.util.Arrays.copyOf(whole, cut);
      assertThatThrownBy(() -> TorchPickle.stateDict(part, "cut"))
          .as("cut at %d", cut)
          .isInstanceOf(IOException.class);
    }
  }
}
