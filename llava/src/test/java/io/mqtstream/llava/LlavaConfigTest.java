package io.mqtstream.llava;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mqtstream.encoder.ClipVisionConfig;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Reading a LLaVA folder's config.json: the keys it takes, and the ones it refuses by name. */
class LlavaConfigTest {
  private static final Path LLM = Path.of("src/test/resources/reference/llava/llm/config.json");
  private static final Path VISION =
      Path.of("src/test/resources/reference/llava/vision/config.json");

  private static ObjectNode fixture() throws IOException {
    return (ObjectNode) new ObjectMapper().readTree(LLM.toFile());
  }

  @Test
  void theFixturesConfigIsReadKeyByKey() throws IOException {
    LlavaConfig c = LlavaConfig.read(LLM);
    JsonNode raw = fixture();
    assertThat(c.lm().dim()).isEqualTo(raw.get("hidden_size").asInt());
    assertThat(c.lm().kvHeads()).isEqualTo(raw.get("num_key_value_heads").asInt());
    assertThat(c.lm().ropeTheta()).isEqualTo((float) raw.get("rope_theta").asDouble());
    assertThat(c.lm().normEps()).isEqualTo((float) raw.get("rms_norm_eps").asDouble());
    assertThat(c.lm().tiedEmbeddings()).isFalse();
    assertThat(c.selectLayer()).isEqualTo(-2);
    assertThat(c.pad()).isTrue();
    assertThat(c.visionTower()).isEqualTo(raw.get("mm_vision_tower").asText());
  }

  @Test
  void unsupportedChoicesFailNamingTheKey() throws IOException {
    for (String[] bad :
        new String[][] {
          {"rope_scaling", "{\"type\":\"linear\",\"factor\":2}"},
          {"mm_patch_merge_type", "\"spatial_unpad\""},
          {"hidden_act", "\"gelu\""},
          {"num_key_value_heads", "3"},
        }) {
      ObjectNode c = fixture();
      c.set(bad[0], new ObjectMapper().readTree(bad[1]));
      assertThatThrownBy(() -> LlavaConfig.of(c, "config.json"))
          .as(bad[0])
          .isInstanceOf(IOException.class)
          .hasMessageContaining(bad[0].equals("num_key_value_heads") ? "kvHeads" : bad[0]);
    }
    ObjectNode c = fixture();
    c.remove("mm_vision_tower");
    assertThatThrownBy(() -> LlavaConfig.of(c, "config.json"))
        .hasMessageContaining("mm_vision_tower");
  }

  @Test
  void aModelThatCannotFitFailsBeforeAllocatingNamingBothSizes() throws IOException {
    LlavaConfig c = LlavaConfig.read(LLM);
    ClipVisionConfig v = ClipVisionConfig.read(VISION, -2, "patch");
    long bytes = 4 * MqtLlava.parameters(c, v, 16);
    MqtLlava.requireMemory(c, v, 16, DataType.FLOAT32, bytes + 1); // fits
    MqtLlava.requireMemory(c, v, 16, DataType.FLOAT32, -1); // unknown: no check
    assertThatThrownBy(() -> MqtLlava.requireMemory(c, v, 16, DataType.FLOAT32, bytes / 2))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("needs")
        .hasMessageContaining("available");
  }
}
