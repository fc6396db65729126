package io.mqtstream.nn;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class SafetensorsFolderTest {

  @Test
  void everyHalfPrecisionValueConvertsAsLibtorchConvertsIt() {
    ByteBuffer all = ByteBuffer.allocateDirect(65536 * 2).order(ByteOrder.nativeOrder());
    for (int i = 0; i < 65536; i++) {
      all.putShort((short) i);
    }
    all.flip();
    try (NDManager m = NDManager.newBaseManager(Engines.pytorch().defaultDevice(), "PyTorch")) {
      NDArray halves = m.create(all, new Shape(65536), DataType.FLOAT16);
      float[] torch = halves.toType(DataType.FLOAT32, false).toFloatArray();
      for (int i = 0; i < 65536; i++) {
        float ours = CheckpointFolder.halfToFloat((short) i);
        if (Float.isNaN(torch[i])) {
          assertThat(ours).as("bits %04x", i).isNaN();
        } else {
          assertThat(Float.floatToIntBits(ours))
              .as("bits %04x", i)
              .isEqualTo(Float.floatToIntBits(torch[i]));
        }
      }
    }
  }
}
