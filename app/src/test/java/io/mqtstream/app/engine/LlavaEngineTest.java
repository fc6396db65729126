package io.mqtstream.app.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.mqtstream.app.EngineConfig;
import io.mqtstream.embedded.EmbeddedKafka;
import io.mqtstream.loadtest.Harness;
import io.mqtstream.loadtest.Ledger;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The engine serving a real MQT-LLaVA checkpoint's layout (the llava module's small reference
 * checkpoint: CLIP tower folder + LLaVA folder) through Kafka: `model.dir` and `model.vision` are
 * all it takes, and every frame of the cameras is answered.
 */
@Tag("kafka")
class LlavaEngineTest {
  private static final Path FIXTURES =
      Path.of("../llava/src/test/resources/reference/llava").toAbsolutePath().normalize();
  private static EmbeddedKafka kafka;

  @BeforeAll
  static void startBroker() {
    kafka = EmbeddedKafka.start();
  }

  @AfterAll
  static void stopBroker() {
    kafka.close();
  }

  @Test
  void aLlavaFolderInModelDirIsServedAndEveryFrameAnswered() throws Exception {
    String name = "llava";
    kafka.createTopic(name + "-frames", 2);
    EngineConfig c =
        EngineConfig.parse(
            """
            kafka:
              bootstrapServers: embedded
              framesTopic: %1$s-frames
              answersTopic: %1$s-answers
              queriesTopic: %1$s-queries
              deadLetterTopic: %1$s-dlq
              groupId: %1$s-engine
            server:
              port: -1
            model:
              dir: %2$s
              vision: %3$s
            encoder:
              maxBatch: 4
            reasoner:
              maxBatch: 4
              maxNewTokens: 3
            """
                .formatted(name, FIXTURES.resolve("llm"), FIXTURES.resolve("vision")),
            name);
    List<Harness.Received> received = new CopyOnWriteArrayList<>();
    try (Engine engine =
        Engine.start(
            c, kafka.bootstrapServers(), new PrometheusMeterRegistry(PrometheusConfig.DEFAULT))) {
      assertThat(engine.budget().settings().ceiling()).isEqualTo(16); // M from the query tensor
      Harness.Options o =
          new Harness.Options(
              2,
              2,
              Duration.ofSeconds(6),
              Harness.Profile.CONSTANT,
              "cam-",
              Harness.Options.synthetic(),
              c.kafka().framesTopic(),
              c.kafka().answersTopic(),
              c.kafka().groupId(),
              Duration.ofSeconds(60),
              Duration.ZERO);
      Ledger.Summary s =
          new Harness(kafka.clientProperties(), o, received::add, p -> {}).run().summary();
      assertThat(s.framesSent()).isGreaterThanOrEqualTo(20);
      assertThat(s.lost()).as("frames never answered").isZero();
      assertThat(s.answers()).isEqualTo(2 * s.framesSent()); // two standing questions
      assertThat(received)
          .allSatisfy(
              r -> {
                assertThat(r.answer().model()).isEqualTo("llm");
                assertThat(r.answer().m()).isBetween(1, 16);
                assertThat(r.answer().frames()).isEqualTo(1);
              });
    }
  }
}
