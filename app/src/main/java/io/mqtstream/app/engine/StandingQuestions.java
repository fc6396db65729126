package io.mqtstream.app.engine;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The standing questions of every camera: read from the compacted {@code queries} topic (key =
 * camera id or {@code *}, value = a JSON list of questions) from its beginning and then live, over
 * the engine's configured defaults. A malformed value is logged and ignored, never fatal.
 */
final class StandingQuestions implements AutoCloseable {
  static final String ALL_CAMERAS = "*";
  private static final Logger log = LoggerFactory.getLogger(StandingQuestions.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final List<String> defaults;
  private final Map<String, List<String>> byCamera = new ConcurrentHashMap<>();
  private final KafkaConsumer<String, String> consumer;
  private final String topic;
  private final Thread thread;
  private final CountDownLatch caughtUp = new CountDownLatch(1);
  private volatile boolean closed;
  private volatile boolean started;

  StandingQuestions(List<String> defaults, Map<String, Object> clientProperties, String topic) {
    this.defaults = List.copyOf(defaults);
    this.topic = topic;
    Map<String, Object> p = new HashMap<>(clientProperties);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.remove(
        ConsumerConfig
            .GROUP_ID_CONFIG); // assigned, not subscribed: every engine reads every question
    this.consumer = new KafkaConsumer<>(p);
    this.thread = new Thread(this::loop, "mqt-queries");
    thread.setDaemon(true);
  }

  /** Starts reading; waits up to {@code timeout} for the topic's current contents. */
  void start(Duration timeout) throws InterruptedException {
    started = true;
    thread.start();
    if (!caughtUp.await(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      log.warn("queries topic {} not read within {}; starting with the defaults", topic, timeout);
    }
  }

  /** The configured defaults. */
  List<String> defaults() {
    return defaults;
  }

  /** The lists read from the topic: camera id (or {@code *}) → questions, sorted by key. */
  Map<String, List<String>> overrides() {
    return new java.util.TreeMap<>(byCamera);
  }

  /** The questions for a camera: its own list, else the {@code *} list, else the defaults. */
  List<String> forCamera(String cameraId) {
    List<String> own = byCamera.get(cameraId);
    if (own != null) {
      return own;
    }
    List<String> all = byCamera.get(ALL_CAMERAS);
    return all != null ? all : defaults;
  }

  private void loop() {
    try {
      List<TopicPartition> partitions = new ArrayList<>();
      for (PartitionInfo info : consumer.partitionsFor(topic, Duration.ofSeconds(30))) {
        partitions.add(new TopicPartition(topic, info.partition()));
      }
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
      while (!closed) {
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
          apply(r.key(), r.value());
        }
        if (caughtUp.getCount() > 0
            && partitions.stream().allMatch(tp -> consumer.position(tp) >= end.get(tp))) {
          caughtUp.countDown();
        }
      }
    } catch (WakeupException e) {
      // closing
    } catch (RuntimeException e) {
      if (!closed) {
        log.error("reading standing questions from {} failed; keeping the last known", topic, e);
      }
    } finally {
      caughtUp.countDown();
      consumer.close(Duration.ofSeconds(2));
    }
  }

  void apply(String key, String value) {
    if (key == null) {
      log.warn("queries record without a key (camera id) ignored");
      return;
    }
    if (value == null || value.isBlank()) {
      byCamera.remove(key);
      log.info("standing questions of {}: back to the defaults", key);
      return;
    }
    try {
      List<String> questions = new ArrayList<>();
      var tree = JSON.readTree(value);
      if (!tree.isArray()) {
        throw new IllegalArgumentException("not a list");
      }
      for (var node : tree) {
        if (!node.isTextual() || node.asText().isBlank()) {
          throw new IllegalArgumentException("every question must be non-empty text");
        }
        questions.add(node.asText().trim());
      }
      if (questions.isEmpty()) {
        byCamera.remove(key);
      } else {
        byCamera.put(key, List.copyOf(questions));
      }
      log.info("standing questions of {}: {}", key, questions.isEmpty() ? defaults : questions);
    } catch (Exception e) {
      log.warn("queries record for {} ignored: not a JSON list of questions: {}", key, value);
    }
  }

  @Override
  public void close() {
    closed = true;
    if (!started) {
      consumer.close(Duration.ZERO);
      return;
    }
    consumer.wakeup();
    try {
      thread.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
