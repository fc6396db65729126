package io.mqtstream.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EngineConfigTest {

  @Test
  void shippedEngineYamlLoadsAndMatchesTheDefaults() {
    EngineConfig c = EngineConfig.load(Path.of("..", "configs", "engine.yaml"));
    assertThat(c).isEqualTo(EngineConfig.defaults());
    assertThat(c.frameSource().pollTimeout()).isEqualTo(Duration.ofMillis(100));
  }

  @Test
  void externalClusterIsConfigurationOnly(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("e.yaml");
    Files.writeString(
        f,
        """
        kafka:
          bootstrapServers: broker-1:9093,broker-2:9093
          properties:
            security.protocol: SASL_SSL
            sasl.mechanism: PLAIN
        ingest:
          drainTimeout: 1m
        """);
    EngineConfig c = EngineConfig.load(f);
    assertThat(c.kafka().embedded()).isFalse();
    assertThat(c.kafka().clientProperties(c.kafka().bootstrapServers()))
        .containsEntry("bootstrap.servers", "broker-1:9093,broker-2:9093")
        .containsEntry("security.protocol", "SASL_SSL")
        .containsEntry("sasl.mechanism", "PLAIN");
    assertThat(c.ingest().drainTimeout()).isEqualTo(Duration.ofMinutes(1));
    assertThat(c.ingest().maxInFlight()).as("unset keys keep defaults").isEqualTo(256);
  }

  @Test
  void unknownKeyFailsNamingTheKey(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("e.yaml");
    Files.writeString(f, "ingest:\n  maxInFlite: 10\n");
    assertThatThrownBy(() -> EngineConfig.load(f))
        .isInstanceOfSatisfying(
            ConfigException.class, e -> assertThat(e.key()).isEqualTo("ingest.maxInFlite"))
        .hasMessageContaining("unknown key");
  }

  @Test
  void invalidValuesFailNamingTheKey(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("e.yaml");
    Files.writeString(f, "ingest:\n  maxInFlight: 8\n  maxPollRecords: 64\n");
    assertThatThrownBy(() -> EngineConfig.load(f))
        .isInstanceOfSatisfying(
            ConfigException.class, e -> assertThat(e.key()).isEqualTo("ingest.maxPollRecords"));

    Files.writeString(f, "ingest:\n  pollTimeout: soon\n");
    assertThatThrownBy(() -> EngineConfig.load(f))
        .isInstanceOfSatisfying(
            ConfigException.class, e -> assertThat(e.key()).isEqualTo("ingest.pollTimeout"))
        .hasMessageContaining("soon");

    Files.writeString(f, "kafka:\n  bootstrapServers: ''\n");
    assertThatThrownBy(() -> EngineConfig.load(f))
        .isInstanceOfSatisfying(
            ConfigException.class, e -> assertThat(e.key()).isEqualTo("kafka.bootstrapServers"));
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.CsvSource(
      delimiter = '|',
      value = {
        "budget:\\n  policy: sometimes\\n | budget.policy",
        "budget:\\n  allowed: [8, 4]\\n | budget.allowed",
        "budget:\\n  decreaseFactor: 1.5\\n | budget.decreaseFactor",
        "budget:\\n  latencyTarget: 0s\\n | budget.latencyTarget",
        "budget:\\n  overrides: {lobby: 0}\\n | budget.overrides.lobby",
        "budget:\\n  flor: 2\\n | budget.flor",
        "model:\\n  device: tpu\\n | model.device",
        "encoder:\\n  maxBatch: 0\\n | encoder.maxBatch",
        "reasoner:\\n  maxQueue: -1\\n | reasoner.maxQueue",
        "questions:\\n  every: 0\\n | questions.every",
        "window:\\n  frames: -1\\n | window.frames",
        "server:\\n  port: 70000\\n | server.port",
        "kafka:\\n  answersTopic: ''\\n | kafka.answersTopic",
        "kafka:\\n  framesTopic: ''\\n | kafka.framesTopic",
        "kafka:\\n  groupId: ''\\n | kafka.groupId",
        "ingest:\\n  maxInFlight: 0\\n | ingest.maxInFlight",
        "ingest:\\n  drainTimeout: 0s\\n | ingest.drainTimeout",
        "ingest:\\n  delivery: exactly-twice\\n | ingest.delivery",
        "model:\\n  dtype: bf16\\n | model.dtype",
        "engine:\\n  x: 1\\n | engine",
        "'': 1\\n | \"\"",
        "kafka:\\n  '': 1\\n | kafka.\"\"",
      })
  void everyEngineSectionRejectsBadValuesNamingTheKey(String yaml, String key) {
    assertThatThrownBy(() -> EngineConfig.parse(yaml.replace("\\n", "\n"), "test.yaml"))
        .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.key()).isEqualTo(key));
  }

  @Test
  void parsesHumanDurations() {
    assertThat(Durations.parse("250ms")).isEqualTo(Duration.ofMillis(250));
    assertThat(Durations.parse("10s")).isEqualTo(Duration.ofSeconds(10));
    assertThat(Durations.parse("5m")).isEqualTo(Duration.ofMinutes(5));
    assertThat(Durations.parse("1.5h")).isEqualTo(Duration.ofMinutes(90));
    assertThatThrownBy(() -> Durations.parse("five")).hasMessageContaining("five");
  }
}
