package io.mqtstream.app.engine;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mqtstream.app.dashboard.Questions;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The dashboard's view of the standing questions: read from the engine's {@link StandingQuestions},
 * changed by writing to the compacted {@code queries} topic (key = camera id or {@code *}, value =
 * the JSON list; an empty list is a tombstone, back to the defaults), which every engine process in
 * the group reads.
 */
final class QueriesTopicQuestions implements Questions, AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final StandingQuestions standing;
  private final String topic;
  private final KafkaProducer<String, String> producer;

  QueriesTopicQuestions(StandingQuestions standing, Map<String, Object> client, String topic) {
    this.standing = standing;
    this.topic = topic;
    Map<String, Object> p = new HashMap<>(client);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    this.producer = new KafkaProducer<>(p);
  }

  @Override
  public List<String> defaults() {
    return standing.defaults();
  }

  @Override
  public Map<String, List<String>> overrides() {
    return standing.overrides();
  }

  @Override
  public void set(String camera, List<String> questions) throws Exception {
    String value;
    try {
      value = questions.isEmpty() ? null : JSON.writeValueAsString(questions);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(e);
    }
    producer.send(new ProducerRecord<>(topic, camera, value)).get(10, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    producer.close(Duration.ofSeconds(2));
  }
}
