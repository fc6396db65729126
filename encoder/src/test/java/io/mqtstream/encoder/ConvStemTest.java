package io.mqtstream.encoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import io.mqtstream.nn.Engines;
import io.mqtstream.nn.Tensors;
import io.mqtstream.wire.FrameRecord;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConvStemTest {

  /**
   * One stride-2 convolution (patch 2) against the definition, summed here in plain loops: out[o,
   * y, x] = b[o] + Σ w[o, c, i, j] · in[c, 2y + i − 1, 2x + j − 1], zero outside the image; the
   * features come out patch by patch, row-major.
   */
  @Test
  void aStrideTwoConvolutionGivesWhatTheDefinitionSums() {
    int side = 6;
    int dim = 4;
    try (NDManager manager = NDManager.newBaseManager(Engines.pytorch().getEngineName())) {
      ConvStem stem = new ConvStem(2, dim);
      stem.initialize(manager, DataType.FLOAT32, new Shape(1, 3, side, side));
      Map<String, Parameter> named = new LinkedHashMap<>();
      stem.collect("stem", named);
      assertThat(named.keySet()).containsExactly("stem.0.weight", "stem.0.bias");
      float[] w = Tensors.toFloats(named.get("stem.0.weight").getArray()); // (dim, 3, 3, 3)
      float[] bias = new float[dim];
      Random r = new Random(3);
      for (int o = 0; o < dim; o++) {
        bias[o] = (float) r.nextGaussian();
      }
      named.get("stem.0.bias").getArray().set(bias);
      float[] in = new float[3 * side * side];
      for (int i = 0; i < in.length; i++) {
        in[i] = (float) r.nextGaussian();
      }
      NDArray images = Tensors.create(manager, in, 0, new Shape(1, 3, side, side));
      NDArray features = stem.apply(new ParameterStore(manager, false), images, false);
      assertThat(stem.getOutputShapes(new Shape[] {images.getShape()})[0])
          .isEqualTo(features.getShape());
      float[] out = Tensors.toFloats(features);
      int g = side / 2;
      assertThat(out).hasSize(g * g * dim);
      for (int y = 0; y < g; y++) {
        for (int x = 0; x < g; x++) {
          for (int o = 0; o < dim; o++) {
            double sum = bias[o];
            for (int c = 0; c < 3; c++) {
              for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++) {
                  int yy = 2 * y + i - 1;
                  int xx = 2 * x + j - 1;
                  if (yy >= 0 && yy < side && xx >= 0 && xx < side) {
                    sum += w[((o * 3 + c) * 3 + i) * 3 + j] * in[(c * side + yy) * side + xx];
                  }
                }
              }
            }
            assertThat(out[(y * g + x) * dim + o])
                .isCloseTo((float) sum, org.assertj.core.data.Offset.offset(1e-4f));
          }
        }
      }
    }
  }

  @Test
  void anEncoderWithTheConvStemNamesItsWeightsAndRoundTrips(@TempDir Path dir) throws Exception {
    VitConfig vit = new VitConfig(64, 8, 64, 1, 4, 2, VitConfig.Stem.CONV);
    EncoderConfig config =
        new EncoderConfig(
            "conv-tiny",
            vit,
            new MqtConfig(
                8, 32, 2, vit.dim(), vit.patches(), 32, MqtConfig.KeyMode.POSITIONAL, true),
            new float[] {0.5f, 0.5f, 0.5f},
            new float[] {0.25f, 0.25f, 0.25f});
    List<FrameRecord> frames = MqtTestSupport.frames(2, 64, 9);
    float[] before;
    try (MqtEncoder encoder = MqtEncoder.create(config, 5)) {
      assertThat(encoder.parameters().keySet())
          .contains("vision.stem.0.weight", "vision.stem.2.bias")
          .noneMatch(n -> n.startsWith("vision.patch_embed"));
      assertThat(encoder.parameters().get("vision.stem.2.weight").getArray().getShape())
          .isEqualTo(new Shape(64, 32, 3, 3)); // widths 16, 32, 64 over three convolutions
      List<VisualTokens> tokens = encoder.encode(frames);
      assertThat(tokens.get(0).count()).isEqualTo(8);
      before = tokens.get(1).toFloatArray();
      encoder.save(dir);
    }
    try (MqtEncoder loaded = MqtEncoder.load(dir)) {
      assertThat(loaded.config()).isEqualTo(config);
      assertThat(loaded.encode(frames).get(1).toFloatArray()).isEqualTo(before);
    }
  }

  @Test
  void theConvStemNeedsAPowerOfTwoPatch() {
    assertThatThrownBy(() -> new VitConfig(60, 6, 64, 1, 4, 2, VitConfig.Stem.CONV))
        .hasMessageStartingWith("vision.stem:");
  }
}
