package io.mqtstream.llava;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mqtstream.nn.Engines;
import java.awt.image.BufferedImage;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A small MQT-LLaVA in the real on-disk layout against the reference implementations' own numbers
 * ({@code src/test/resources/reference/llava}, made by {@code make_fixtures.py} with Hugging Face
 * transformers' CLIP and LLaMA and MQT-LLaVA's Resampler): loaded through the same code path as a
 * real checkpoint, every stage matches within 1e-4 (fp32, CPU) and greedy ids are equal.
 */
class MqtLlavaTest {
  private static final Path FIXTURES = Path.of("src/test/resources/reference/llava");

  /** fp32 on a CPU; bin/gpu-check runs these tests on a GPU with 1e-3 (-Dmqt.test.tolerance). */
  private static final float TOLERANCE =
      Float.parseFloat(System.getProperty("mqt.test.tolerance", "1e-4"));

  /** cpu unless -Dmqt.test.device=gpu (bin/gpu-check). */
  private static final Device DEVICE = Engines.device(System.getProperty("mqt.test.device", "cpu"));

  private static MqtLlava model;
  private static NDManager manager;
  private static Map<String, NDArray> expected;
  private static JsonNode cases;

  @BeforeAll
  static void load() throws Exception {
    model = MqtLlava.load(FIXTURES.resolve("llm"), FIXTURES.resolve("vision"), DEVICE);
    manager = NDManager.newBaseManager(DEVICE, Engines.pytorch().getEngineName());
    expected = new LinkedHashMap<>();
    try (InputStream in = Files.newInputStream(FIXTURES.resolve("expected.safetensors"))) {
      for (NDArray t : NDList.decode(manager, in)) {
        expected.put(t.getName(), t);
      }
    }
    cases = new ObjectMapper().readTree(FIXTURES.resolve("cases.json").toFile());
  }

  @AfterAll
  static void close() {
    manager.close();
    model.close();
  }

  private static float maxAbsDiff(NDArray a, NDArray b) {
    assertThat(a.getShape()).isEqualTo(b.getShape());
    return a.sub(b).abs().max().getFloat();
  }

  private static long[] longs(JsonNode array) {
    return StreamSupport.stream(array.spliterator(), false).mapToLong(JsonNode::asLong).toArray();
  }

  private static NDArray picture(NDManager scope) throws Exception {
    BufferedImage image = ImageIO.read(FIXTURES.resolve("image.png").toFile()); // 400 × 300
    return model.pixelArray(scope, model.pixels(image));
  }

  @Test
  void picturesArePaddedResizedAndNormalisedAsTheReferenceProcessorDoes() throws Exception {
    try (NDManager scope = manager.newSubManager()) {
      assertThat(maxAbsDiff(picture(scope), expected.get("pixel_values"))).isLessThan(TOLERANCE);
    }
  }

  @Test
  void theTowerGivesLayerMinusTwoPatchFeatures() {
    try (NDManager scope = manager.newSubManager()) {
      NDArray features = model.features(expected.get("pixel_values").duplicate());
      features.attach(scope);
      assertThat(maxAbsDiff(features, expected.get("features"))).isLessThan(TOLERANCE);
    }
  }

  @Test
  void theQueryAbstractorGivesTheReferenceTokensAtEveryM() {
    for (int m : new int[] {2, 5, 16}) {
      try (NDManager scope = manager.newSubManager()) {
        NDArray features = expected.get("features").duplicate();
        features.attach(scope);
        NDArray tokens = model.visualTokens(features, m);
        assertThat(maxAbsDiff(tokens, expected.get("tokens.m" + m)))
            .as("m = %d", m)
            .isLessThan(TOLERANCE);
      }
    }
  }

  @Test
  void promptsAreTokenizedAsLlavaTokenizesThem() {
    assertThat(model.tokenizer().ids(PromptTokenizer.vicuna(cases.get("question").asText())))
        .containsExactly(longs(cases.get("prompt_ids")));
    assertThat(PromptTokenizer.vicuna(cases.get("question").asText()))
        .isEqualTo(cases.get("prompt").asText());
    assertThat(model.tokenizer().ids(cases.get("raw").asText()))
        .containsExactly(longs(cases.get("raw_ids")));
  }

  @Test
  void fromThePictureFileTheLogitsOverThePromptMatchTheReference() throws Exception {
    long[] ids = longs(cases.get("prompt_ids"));
    for (int m : new int[] {2, 16}) {
      try (NDManager scope = manager.newSubManager()) {
        NDArray tokens = model.visualTokens(model.features(picture(scope)), m); // (1, m, D)
        NDArray logits = model.logits(model.embed(scope, ids, List.of(tokens.get(0))));
        assertThat(maxAbsDiff(logits, expected.get("logits.m" + m)))
            .as("m = %d", m)
            .isLessThan(TOLERANCE);
      }
    }
  }

  @Test
  void aWindowsFramesGoAtTheImageOneAfterTheOtherInTimeOrder() throws Exception {
    long[] ids = longs(cases.get("prompt_ids"));
    int at = 0;
    while (ids[at] != PromptTokenizer.IMAGE) {
      at++;
    }
    try (NDManager scope = manager.newSubManager()) {
      NDArray features = expected.get("features").duplicate();
      features.attach(scope);
      NDArray first = model.visualTokens(features, 5).get(0); // (5, D)
      NDArray second = model.visualTokens(features.mul(-1), 5).get(0); // another frame
      NDArray alone = model.embed(scope, ids, List.of(first)); // (1, L, D)
      NDArray both = model.embed(scope, ids, List.of(first, second)); // (1, L + 5, D)
      assertThat(both.getShape().get(1)).isEqualTo(alone.getShape().get(1) + 5);
      String before = ":, :" + at + ", :";
      assertThat(maxAbsDiff(both.get(before), alone.get(before))).isZero();
      assertThat(maxAbsDiff(both.get(":, " + at + ":" + (at + 5) + ", :").squeeze(0), first))
          .isZero();
      assertThat(
              maxAbsDiff(both.get(":, " + (at + 5) + ":" + (at + 10) + ", :").squeeze(0), second))
          .isZero();
      assertThat(
              maxAbsDiff(
                  both.get(":, " + (at + 10) + ":, :"), alone.get(":, " + (at + 5) + ":, :")))
          .isZero();
    }
  }

  @Test
  void greedyIdsAreTheReferences() throws Exception {
    for (String kind : new String[] {"greedy", "raw_greedy"}) {
      long[] ids = longs(cases.get(kind.equals("greedy") ? "prompt_ids" : "raw_ids"));
      for (int m : new int[] {2, 5, 16}) {
        try (NDManager scope = manager.newSubManager()) {
          NDArray tokens = model.visualTokens(model.features(picture(scope)), m);
          long[] generated = model.generate(model.embed(scope, ids, List.of(tokens.get(0))), 8);
          assertThat(generated)
              .as("%s at m = %d", kind, m)
              .containsExactly(longs(cases.get(kind).get(Integer.toString(m))));
        }
      }
    }
  }
}
