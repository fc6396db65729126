package io.mqtstream.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.mqtstream.encoder.ClipVisionConfig;
import io.mqtstream.llava.LlavaConfig;
import io.mqtstream.llava.MqtLlava;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The mqt-llava-7b preset is read by the code that reads a real checkpoint's config.json, and gives
 * MQT-LLaVA-7B's size: 6.74 B (Vicuna-7B) + 0.29 B (CLIP-L's 23 layers that run) + the MQT.
 */
class LlavaPresetTest {
  private static final Path PRESET = Path.of("../configs/models/mqt-llava-7b.yaml");

  @Test
  void thePresetHasTheSevenBillionShapesAndIsRefusedWhereItCannotFit() throws Exception {
    JsonNode tree = new YAMLMapper().readTree(PRESET.toFile());
    LlavaConfig c = LlavaConfig.of(tree.path("llm"), "preset llm");
    ClipVisionConfig v = ClipVisionConfig.of(tree.path("vision"), "preset vision", -2, "patch");
    int m = tree.at("/mqt/num_queries").asInt();
    assertThat(v.grid()).isEqualTo(24);
    assertThat(c.lmParameters()).isBetween(6_700_000_000L, 6_800_000_000L); // Vicuna-7B: 6.74 B
    long all = MqtLlava.parameters(c, v, m);
    assertThat(all - c.lmParameters()).isBetween(300_000_000L, 400_000_000L);
    long gib = 1L << 30;
    DataType fp32 = DataType.FLOAT32;
    assertThatThrownBy(() -> MqtLlava.requireMemory(c, v, m, fp32, 24 * gib)) // our machines
        .hasMessageContaining("needs 26.5 GiB for its fp32 weights")
        .hasMessageContaining("24.0 GiB available");
    MqtLlava.requireMemory(c, v, m, fp32, 32 * gib);
    MqtLlava.requireMemory(c, v, m, DataType.FLOAT16, 20 * gib); // 13.2 GiB in fp16
  }
}
