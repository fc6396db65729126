package io.mqtstream.llava;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mqtstream.encoder.FrameEncoder;
import io.mqtstream.encoder.VisualTokens;
import io.mqtstream.reasoner.Completion;
import io.mqtstream.reasoner.Prompt;
import io.mqtstream.reasoner.Reasoner;
import io.mqtstream.reasoner.Sampling;
import io.mqtstream.wire.FrameRecord;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.StreamSupport;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

/**
 * The engine's view of an MQT-LLaVA checkpoint ({@link MqtLlava#frameEncoder()}, {@link
 * MqtLlava#reasoner()}): a frame on the wire, encoded once at M, cut to m, asked through the
 * engine's own batched decoding, gives the reference's greedy ids (the fixtures of {@link
 * MqtLlavaTest}).
 */
class LlavaEnginePartsTest {
  private static final Path FIXTURES = Path.of("src/test/resources/reference/llava");

  @Test
  void aFrameThroughTheEnginesStagesGetsTheReferencesGreedyAnswerAtEveryM() throws Exception {
    JsonNode cases = new ObjectMapper().readTree(FIXTURES.resolve("cases.json").toFile());
    BufferedImage image = ImageIO.read(FIXTURES.resolve("image.png").toFile());
    int w = image.getWidth();
    int h = image.getHeight();
    byte[] rgb = new byte[w * h * 3];
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int p = image.getRGB(x, y);
        int i = (y * w + x) * 3;
        rgb[i] = (byte) (p >> 16);
        rgb[i + 1] = (byte) (p >> 8);
        rgb[i + 2] = (byte) p;
      }
    }
    FrameRecord frame = new FrameRecord("cam-0", 7, 0, w, h, FrameRecord.Encoding.RAW_RGB, rgb);
    MqtLlava model =
        MqtLlava.load(FIXTURES.resolve("llm"), FIXTURES.resolve("vision"), Device.cpu());
    try (FrameEncoder encoder = model.frameEncoder();
        Reasoner reasoner = model.reasoner()) {
      VisualTokens tokens = encoder.encodeDecoded(List.of(encoder.pixels(frame))).get(0);
      assertThat(tokens.count()).isEqualTo(encoder.maxTokens()).isEqualTo(16);
      List<Prompt> prompts = new ArrayList<>();
      for (int m : new int[] {2, 5, 16}) {
        prompts.add(
            reasoner.prompt(
                "m" + m,
                List.of(tokens.tokens(m)),
                cases.get("question").asText(),
                Sampling.greedy(8),
                m));
      }
      List<Completion> done = reasoner.generate(prompts); // one batch, three lengths
      assertThat(done).hasSize(3);
      for (Completion c : done) {
        long[] expected =
            StreamSupport.stream(
                    cases.get("greedy").get(c.prompt().context().toString()).spliterator(), false)
                .mapToLong(JsonNode::asLong)
                .toArray();
        assertThat(c.tokens()).as("m = %s", c.prompt().context()).containsExactly(expected);
        assertThat(c.promptTokens())
            .isEqualTo(cases.get("prompt_ids").size() - 1 + (int) c.prompt().context());
      }
    }
  }
}
