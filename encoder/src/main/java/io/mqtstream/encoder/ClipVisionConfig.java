package io.mqtstream.encoder;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Shape of a CLIP vision tower as Hugging Face's {@code CLIPVisionConfig} writes it in a model
 * folder's {@code config.json} (either at the top, or under {@code vision_config} of a whole {@code
 * CLIPConfig}), plus LLaVA's two choices of which features the MQT sees.
 *
 * @param hiddenSize Dv (1024 for ViT-L/14)
 * @param intermediateSize MLP width (4096)
 * @param layers encoder layers (24)
 * @param heads attention heads (16)
 * @param imageSize input side in pixels (336)
 * @param patchSize patch side in pixels (14: a 24 × 24 grid at 336)
 * @param layerNormEps LayerNorm ε (1e-5)
 * @param hiddenAct {@code quick_gelu} (CLIP) or {@code gelu}
 * @param selectLayer LLaVA's {@code mm_vision_select_layer}: which hidden state feeds the MQT (−2:
 *     the output of the last layer but one; index 0 is the embeddings after {@code pre_layrnorm})
 * @param selectFeature LLaVA's {@code mm_vision_select_feature}: {@code patch} drops the class
 *     token, {@code cls_patch} keeps it
 */
public record ClipVisionConfig(
    int hiddenSize,
    int intermediateSize,
    int layers,
    int heads,
    int imageSize,
    int patchSize,
    float layerNormEps,
    String hiddenAct,
    int selectLayer,
    String selectFeature) {

  public ClipVisionConfig {
    if (hiddenSize < 1 || heads < 1 || hiddenSize % heads != 0) {
      throw new IllegalArgumentException(
          "vision hidden_size " + hiddenSize + " must split into num_attention_heads " + heads);
    }
    if (patchSize < 1 || imageSize % patchSize != 0) {
      throw new IllegalArgumentException(
          "vision image_size " + imageSize + " is not a multiple of patch_size " + patchSize);
    }
    if (!hiddenAct.equals("quick_gelu") && !hiddenAct.equals("gelu")) {
      throw new IllegalArgumentException("vision hidden_act " + hiddenAct + " is not supported");
    }
    int states = layers + 1;
    if (selectLayer >= states || selectLayer < -states) {
      throw new IllegalArgumentException(
          "mm_vision_select_layer " + selectLayer + " is outside the " + states + " hidden states");
    }
    if (!selectFeature.equals("patch") && !selectFeature.equals("cls_patch")) {
      throw new IllegalArgumentException(
          "mm_vision_select_feature must be patch or cls_patch, was " + selectFeature);
    }
  }

  /** The patch grid's side: 24 for 336 / 14. */
  public int grid() {
    return imageSize / patchSize;
  }

  /** How many encoder layers run to reach the selected hidden state. */
  public int layersRun() {
    return selectLayer >= 0 ? selectLayer : layers + 1 + selectLayer;
  }

  /** Features per image the MQT sees: the patches, plus the class token for {@code cls_patch}. */
  public int features() {
    return grid() * grid() + (selectFeature.equals("cls_patch") ? 1 : 0);
  }

  /**
   * Reads a vision tower's {@code config.json}.
   *
   * @param selectLayer LLaVA's {@code mm_vision_select_layer} (from the LLaVA config)
   * @param selectFeature LLaVA's {@code mm_vision_select_feature}
   */
  public static ClipVisionConfig read(Path configJson, int selectLayer, String selectFeature)
      throws IOException {
    return of(
        new ObjectMapper().readTree(Files.readAllBytes(configJson)),
        configJson.toString(),
        selectLayer,
        selectFeature);
  }

  /** The same from a tree already read; {@code origin} names the source in errors. */
  public static ClipVisionConfig of(
      JsonNode root, String origin, int selectLayer, String selectFeature) throws IOException {
    String configJson = origin;
    JsonNode v = root.has("vision_config") ? root.get("vision_config") : root;
    try {
      return new ClipVisionConfig(
          required(v, "hidden_size", configJson),
          required(v, "intermediate_size", configJson),
          required(v, "num_hidden_layers", configJson),
          required(v, "num_attention_heads", configJson),
          required(v, "image_size", configJson),
          required(v, "patch_size", configJson),
          (float) v.path("layer_norm_eps").asDouble(1e-5),
          v.path("hidden_act").asText("quick_gelu"),
          selectLayer,
          selectFeature);
    } catch (IllegalArgumentException e) {
      throw new IOException(configJson + ": " + e.getMessage(), e);
    }
  }

  /** Parameters of the layers that run (the embeddings and the skipped layers not counted). */
  public long parametersRun() {
    long d = hiddenSize;
    return layersRun() * (4 * d * d + 2 * d * intermediateSize + 9 * d + intermediateSize);
  }

  private static int required(JsonNode v, String key, String file) throws IOException {
    if (!v.hasNonNull(key)) {
      throw new IOException(file + ": vision config has no " + key);
    }
    return v.get(key).asInt();
  }
}
