package io.mqtstream.app;

import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.CommonClientConfigs;

/**
 * Where the engine's Kafka is and how to reach it. Pointing the engine at an external cluster is
 * only this: the bootstrap servers plus any client property passed through unchanged (SASL, SSL,
 * timeouts).
 *
 * @param bootstrapServers {@code host:port,…}; {@code embedded} starts a broker inside the JVM
 * @param properties extra Kafka client properties, e.g. {@code security.protocol: SASL_SSL}
 * @param framesTopic the frames topic
 * @param deadLetterTopic where undecodable frames go
 * @param groupId the engine's consumer group
 * @param answersTopic where answers go
 * @param queriesTopic the compacted topic of standing questions
 * @param createTopics create the answers, queries and dead-letter topics when missing
 */
public record KafkaSettings(
    String bootstrapServers,
    Map<String, String> properties,
    String framesTopic,
    String deadLetterTopic,
    String groupId,
    String answersTopic,
    String queriesTopic,
    boolean createTopics) {

  public static final String EMBEDDED = "embedded";

  public KafkaSettings {
    ConfigException.requireText("kafka.bootstrapServers", bootstrapServers);
    ConfigException.requireText("kafka.framesTopic", framesTopic);
    ConfigException.requireText("kafka.deadLetterTopic", deadLetterTopic);
    ConfigException.requireText("kafka.groupId", groupId);
    ConfigException.requireText("kafka.answersTopic", answersTopic);
    ConfigException.requireText("kafka.queriesTopic", queriesTopic);
    properties = properties == null ? Map.of() : Map.copyOf(properties);
    if (properties.containsKey(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG)) {
      throw new ConfigException(
          "kafka.properties.bootstrap.servers", "set kafka.bootstrapServers instead");
    }
  }

  public boolean embedded() {
    return EMBEDDED.equals(bootstrapServers);
  }

  /** Client properties for a cluster at {@code bootstrap}: ours plus the passed-through ones. */
  public Map<String, Object> clientProperties(String bootstrap) {
    Map<String, Object> p = new HashMap<>(properties);
    p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    return p;
  }
}
