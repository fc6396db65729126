package io.mqtstream.encoder;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Everything needed to rebuild an encoder: the preset's name, the backbone and MQT shapes, and the
 * pixel normalisation. Stored as {@code config.json} beside the weights.
 *
 * @param preset the preset's name, e.g. {@code mqt-tiny}
 * @param vision the vision backbone
 * @param mqt the query transformer
 * @param pixelMean per-channel mean (RGB, 0..1 scale)
 * @param pixelStd per-channel standard deviation
 */
public record EncoderConfig(
    String preset, VitConfig vision, MqtConfig mqt, float[] pixelMean, float[] pixelStd) {

  public EncoderConfig {
    if (vision.dim() != mqt.featureDim()) {
      throw new IllegalArgumentException(
          "mqt.featureDim: must equal vision.dim " + vision.dim() + ", got " + mqt.featureDim());
    }
    if (vision.patches() != mqt.patches()) {
      throw new IllegalArgumentException(
          "mqt.patches: must equal the backbone's " + vision.patches() + ", got " + mqt.patches());
    }
    if (pixelMean == null || pixelMean.length != 3 || pixelStd == null || pixelStd.length != 3) {
      throw new IllegalArgumentException("pixelMean/pixelStd: three values each (R, G, B)");
    }
  }

  /** The same encoder with MQT keys of {@code keys}. */
  public EncoderConfig withKeyMode(MqtConfig.KeyMode keys) {
    return new EncoderConfig(preset, vision, mqt.withKeyMode(keys), pixelMean, pixelStd);
  }

  /**
   * The {@code mqt-tiny} preset: 64×64 images in 8×8 patches (64 × 128 features from a 2-layer
   * ViT), M = 64 latent queries, one 4-head cross-attention of width 128, tokens of width 256.
   */
  public static EncoderConfig tiny(MqtConfig.KeyMode keyMode, boolean tokenPositions) {
    return tiny(keyMode, tokenPositions, MqtConfig.Block.LEGACY);
  }

  /**
   * The same preset with the given MQT block (the reference one: positional keys, no positions).
   */
  public static EncoderConfig tiny(
      MqtConfig.KeyMode keyMode, boolean tokenPositions, MqtConfig.Block block) {
    return tiny(keyMode, tokenPositions, block, new VitConfig(64, 8, 128, 2, 4, 4));
  }

  /**
   * The preset on another vision backbone (a training run's {@code vision:} keys): the MQT keeps M
   * = 64 queries and tokens of width 256, at the backbone's width and patch count.
   */
  public static EncoderConfig tiny(
      MqtConfig.KeyMode keyMode, boolean tokenPositions, MqtConfig.Block block, VitConfig vit) {
    return new EncoderConfig(
        "mqt-tiny",
        vit,
        new MqtConfig(64, 128, 4, vit.dim(), vit.patches(), 256, keyMode, tokenPositions, block),
        new float[] {0.5f, 0.5f, 0.5f},
        new float[] {0.25f, 0.25f, 0.25f});
  }

  public void write(Path file) throws IOException {
    Files.writeString(file, mapper().writeValueAsString(this));
  }

  public static EncoderConfig read(Path file) throws IOException {
    try {
      return mapper().readValue(Files.readString(file), EncoderConfig.class);
    } catch (com.fasterxml.jackson.databind.JsonMappingException e) {
      throw new IOException(file + ": " + e.getOriginalMessage(), e);
    }
  }

  private static ObjectMapper mapper() {
    return new ObjectMapper()
        .enable(SerializationFeature.INDENT_OUTPUT)
        .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof EncoderConfig c
        && preset.equals(c.preset)
        && vision.equals(c.vision)
        && mqt.equals(c.mqt)
        && java.util.Arrays.equals(pixelMean, c.pixelMean)
        && java.util.Arrays.equals(pixelStd, c.pixelStd);
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(preset, vision, mqt)
        + 31 * java.util.Arrays.hashCode(pixelMean)
        + java.util.Arrays.hashCode(pixelStd);
  }
}
