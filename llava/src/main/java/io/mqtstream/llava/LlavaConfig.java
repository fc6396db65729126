package io.mqtstream.llava;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mqtstream.reasoner.LmConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * What an MQT-LLaVA folder's {@code config.json} says: the LLaMA shape (Hugging Face {@code
 * LlamaConfig} keys) and LLaVA's keys for the vision side. Validated at load, naming the key.
 *
 * @param lm the language model's shape
 * @param visionTower {@code mm_vision_tower}: a hub name or a path
 * @param visionHidden {@code mm_hidden_size}, the tower's width
 * @param selectLayer {@code mm_vision_select_layer}
 * @param selectFeature {@code mm_vision_select_feature}
 * @param pad {@code image_aspect_ratio == "pad"}
 * @param bosId {@code bos_token_id}
 * @param eosId {@code eos_token_id}
 */
public record LlavaConfig(
    LmConfig lm,
    String visionTower,
    int visionHidden,
    int selectLayer,
    String selectFeature,
    boolean pad,
    long bosId,
    long eosId) {

  /** Reads and checks {@code config.json}; an unsupported choice fails naming its key. */
  public static LlavaConfig read(Path configJson) throws IOException {
    return of(new ObjectMapper().readTree(Files.readAllBytes(configJson)), configJson.toString());
  }

  /**
   * The same from a tree already read (e.g. the {@code llm:} section of a preset YAML).
   *
   * @param origin names the source in errors
   */
  public static LlavaConfig of(JsonNode c, String origin) throws IOException {
    String configJson = origin;
    String act = c.path("hidden_act").asText("silu");
    if (!act.equals("silu")) {
      throw bad(configJson, "hidden_act", "is " + act + "; LLaMA's MLP is SwiGLU (silu)");
    }
    if (c.hasNonNull("rope_scaling")) {
      throw bad(configJson, "rope_scaling", "is set; only unscaled RoPE is supported");
    }
    String merge = c.path("mm_patch_merge_type").asText("flat");
    if (!merge.equals("flat")) {
      throw bad(configJson, "mm_patch_merge_type", "is " + merge + "; only flat is supported");
    }
    if (c.path("mm_use_im_start_end").asBoolean(false)) {
      throw bad(configJson, "mm_use_im_start_end", "is true; not supported");
    }
    int heads = required(c, "num_attention_heads", configJson);
    double theta =
        c.hasNonNull("rope_theta")
            ? c.get("rope_theta").asDouble()
            : c.path("rope_parameters").path("rope_theta").asDouble(10_000);
    LmConfig lm;
    try {
      lm =
          new LmConfig(
              required(c, "vocab_size", configJson),
              required(c, "hidden_size", configJson),
              required(c, "num_hidden_layers", configJson),
              heads,
              required(c, "intermediate_size", configJson),
              1,
              c.path("max_position_embeddings").asInt(2048),
              LmConfig.Norm.RMS,
              LmConfig.Mlp.SWIGLU,
              LmConfig.Positions.ROPE,
              (float) theta,
              c.path("tie_word_embeddings").asBoolean(false),
              c.path("num_key_value_heads").asInt(heads),
              (float) c.path("rms_norm_eps").asDouble(1e-6),
              LmConfig.PromptOrder.FRAMES_FIRST,
              0,
              false,
              0,
              List.of(),
              0,
              0);
    } catch (IllegalArgumentException e) {
      throw new IOException(configJson + ": " + e.getMessage(), e);
    }
    if (!c.hasNonNull("mm_vision_tower")) {
      throw bad(configJson, "mm_vision_tower", "is missing: not a LLaVA checkpoint");
    }
    return new LlavaConfig(
        lm,
        c.get("mm_vision_tower").asText(),
        required(c, "mm_hidden_size", configJson),
        c.path("mm_vision_select_layer").asInt(-2),
        c.path("mm_vision_select_feature").asText("patch"),
        c.path("image_aspect_ratio").asText("square").equals("pad"),
        c.path("bos_token_id").asLong(1),
        c.path("eos_token_id").asLong(2));
  }

  /** The parameters of the language model (embeddings, layers, norms, head). */
  public long lmParameters() {
    long d = lm.dim();
    long kv = (long) lm.kvHeads() * lm.headDim();
    long perLayer = d * d * 2 + d * kv * 2 + 3L * d * lm.ffnDim() + 2 * d;
    return lm.layers() * perLayer + lm.vocab() * d * (lm.tiedEmbeddings() ? 1 : 2) + d;
  }

  private static int required(JsonNode c, String key, String file) throws IOException {
    if (!c.hasNonNull(key)) {
      throw bad(file, key, "is missing");
    }
    return c.get(key).asInt();
  }

  private static IOException bad(String file, String key, String why) {
    return new IOException(file + ": " + key + " " + why);
  }
}
