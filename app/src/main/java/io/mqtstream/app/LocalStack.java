package io.mqtstream.app;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.mqtstream.app.engine.Engine;
import io.mqtstream.embedded.EmbeddedKafka;
import java.io.IOException;
import java.util.Map;

/**
 * What {@code demo} and {@code loadtest} run on one machine: an embedded broker with the frames
 * topic, and the engine against it.
 */
final class LocalStack implements AutoCloseable {
  final EmbeddedKafka kafka;
  final Engine engine;

  private LocalStack(EmbeddedKafka kafka, Engine engine) {
    this.kafka = kafka;
    this.engine = engine;
  }

  static LocalStack start(EngineConfig config, int framePartitions)
      throws IOException, InterruptedException {
    EmbeddedKafka kafka = EmbeddedKafka.start();
    try {
      kafka.createTopic(config.kafka().framesTopic(), framePartitions);
      Engine engine =
          Engine.start(
              config,
              kafka.bootstrapServers(),
              new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
      return new LocalStack(kafka, engine);
    } catch (IOException | InterruptedException | RuntimeException e) {
      kafka.close();
      throw e;
    }
  }

  Map<String, Object> clientProperties() {
    return kafka.clientProperties();
  }

  @Override
  public void close() {
    try {
      engine.close();
    } finally {
      kafka.close();
    }
  }
}
