package io.mqtstream.app.engine;

import io.mqtstream.app.EngineConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * An engine as a real process: {@code Main run --config FILE} in a child JVM with this test's class
 * path, against the test's broker. For faults a process meets: SIGTERM, {@code kill -9}.
 */
final class EngineProcess implements AutoCloseable {
  private final Process process;
  private final Path log;

  private EngineProcess(Process process, Path log) {
    this.process = process;
    this.log = log;
  }

  /**
   * Starts {@code run} with the config's topics and group against {@code bootstrap}, plus the given
   * Kafka client properties.
   */
  static EngineProcess start(
      Path dir, String name, EngineConfig c, String bootstrap, Map<String, String> kafkaProperties)
      throws IOException {
    StringBuilder props = new StringBuilder();
    kafkaProperties.forEach(
        (k, v) -> props.append("    ").append(k).append(": \"").append(v).append("\"\n"));
    Path yaml = dir.resolve(name + ".yaml");
    Files.writeString(
        yaml,
        """
        kafka:
          bootstrapServers: %s
          framesTopic: %s
          answersTopic: %s
          queriesTopic: %s
          deadLetterTopic: %s
          groupId: %s
          properties:
        %s
        ingest:
          delivery: %s
        server:
          port: -1
        """
            .formatted(
                bootstrap,
                c.kafka().framesTopic(),
                c.kafka().answersTopic(),
                c.kafka().queriesTopic(),
                c.kafka().deadLetterTopic(),
                c.kafka().groupId(),
                props.length() == 0 ? "    {}" : props.toString().stripTrailing(),
                c.ingest().delivery()));
    List<String> cmd =
        List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-Xmx1500m",
            "-Dai.djl.offline=true",
            "-cp",
            System.getProperty("java.class.path"),
            "io.mqtstream.app.Main",
            "run",
            "--config",
            yaml.toString());
    Path log = dir.resolve(name + ".log");
    Process p =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    return new EngineProcess(p, log);
  }

  /** SIGTERM: the engine drains, commits and exits. */
  void terminate() {
    process.destroy();
  }

  /** SIGKILL ({@code kill -9}): nothing runs after it. */
  void kill() {
    process.destroyForcibly();
  }

  boolean waitFor(long seconds) throws InterruptedException {
    return process.waitFor(seconds, TimeUnit.SECONDS);
  }

  boolean alive() {
    return process.isAlive();
  }

  String log() throws IOException {
    return Files.readString(log);
  }

  @Override
  public void close() {
    process.destroyForcibly();
  }
}
