package io.mqtstream.app.engine;

import io.mqtstream.app.ConfigException;
import io.mqtstream.app.KafkaSettings;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.SslAuthenticationException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates the topics the engine writes and reads besides {@code frames} when they are missing:
 * {@code answers} and the dead-letter topic with the broker's defaults, {@code queries} compacted
 * with one partition (its latest value per camera is the state). An existing topic is left alone.
 */
final class TopicAdmin {
  private static final Logger log = LoggerFactory.getLogger(TopicAdmin.class);

  private TopicAdmin() {}

  /**
   * Connects to the cluster once before anything else does, so that wrong credentials, an untrusted
   * certificate or no broker at all fail the start at once with a message that names the setting to
   * look at (never the secret), instead of a hang or a late pipeline error.
   *
   * @throws ConfigException naming {@code kafka.properties} or {@code kafka.bootstrapServers}
   */
  static void checkReachable(Map<String, Object> client, Duration timeout)
      throws InterruptedException {
    try (Admin admin = Admin.create(client)) {
      admin
          .describeCluster(new DescribeClusterOptions().timeoutMs((int) timeout.toMillis()))
          .nodes()
          .get(timeout.toMillis() + 5_000, TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
      if (cause instanceof SslAuthenticationException) {
        throw new ConfigException(
            "kafka.properties",
            "TLS with the cluster failed (is its certificate in ssl.truststore.*?): "
                + cause.getMessage());
      }
      if (cause instanceof AuthenticationException) {
        throw new ConfigException(
            "kafka.properties",
            "the cluster refused the credentials (sasl.*): " + cause.getMessage());
      }
      throw new ConfigException(
          "kafka.bootstrapServers",
          "no broker answered within " + timeout.toSeconds() + " s: " + cause);
    }
  }

  static void ensureTopics(Map<String, Object> client, KafkaSettings kafka)
      throws InterruptedException {
    List<NewTopic> wanted =
        List.of(
            new NewTopic(kafka.answersTopic(), Optional.empty(), Optional.empty()),
            new NewTopic(kafka.deadLetterTopic(), Optional.empty(), Optional.empty()),
            new NewTopic(kafka.queriesTopic(), Optional.of(1), Optional.empty())
                .configs(
                    Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT)));
    try (Admin admin = Admin.create(client)) {
      for (NewTopic t : wanted) {
        try {
          admin.createTopics(List.of(t)).all().get(30, TimeUnit.SECONDS);
          log.info("created topic {}", t.name());
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof TopicExistsException)) {
            throw new IllegalStateException("cannot create topic " + t.name(), e.getCause());
          }
        } catch (TimeoutException e) {
          throw new IllegalStateException("cannot create topic " + t.name() + ": timed out", e);
        }
      }
    }
  }
}
