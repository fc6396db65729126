package io.mqtstream.ingest;

import java.time.Duration;

/**
 * Settings of {@link KafkaFrameSource}, validated at construction so a wrong value fails at start
 * with an {@link InvalidSettingException} naming the key.
 *
 * @param topic the frames topic
 * @param groupId the consumer group; more engine processes in one group share the partitions
 * @param deadLetterTopic where undecodable records go, with the reason in headers
 * @param maxInFlight the most records read from Kafka and not yet acknowledged, buffered ones
 *     included; the bound on what the engine holds in memory
 * @param maxPollRecords the most records one poll may return; at most {@code maxInFlight}
 * @param pollTimeout how long one poll waits for data
 * @param commitInterval how often acknowledged offsets are committed while running
 * @param drainTimeout on a graceful stop, how long to wait for in-flight frames to be acknowledged
 * @param delivery at-least-once (outputs written by their stage, offsets committed after) or
 *     exactly-once (outputs and offsets in one transaction, see {@link Frame#ackWith})
 */
public record FrameSourceConfig(
    String topic,
    String groupId,
    String deadLetterTopic,
    int maxInFlight,
    int maxPollRecords,
    Duration pollTimeout,
    Duration commitInterval,
    Duration drainTimeout,
    Delivery delivery) {

  public FrameSourceConfig {
    requireText("topic", topic);
    requireText("groupId", groupId);
    requireText("deadLetterTopic", deadLetterTopic);
    if (maxInFlight < 1) {
      throw new InvalidSettingException("maxInFlight", "must be >= 1, got " + maxInFlight);
    }
    if (maxPollRecords < 1 || maxPollRecords > maxInFlight) {
      throw new InvalidSettingException(
          "maxPollRecords",
          "must be in 1..maxInFlight (" + maxInFlight + "), got " + maxPollRecords);
    }
    requirePositive("pollTimeout", pollTimeout);
    requirePositive("commitInterval", commitInterval);
    requirePositive("drainTimeout", drainTimeout);
    if (delivery == null) {
      throw new InvalidSettingException("delivery", "must be set");
    }
  }

  /** Defaults for a topic and group: 256 in flight, polls of 64, commits every 200 ms. */
  public static FrameSourceConfig defaults(String topic, String groupId) {
    return new FrameSourceConfig(
        topic,
        groupId,
        topic + ".dlq",
        256,
        64,
        Duration.ofMillis(100),
        Duration.ofMillis(200),
        Duration.ofSeconds(10),
        Delivery.AT_LEAST_ONCE);
  }

  public FrameSourceConfig withMaxInFlight(int maxInFlight, int maxPollRecords) {
    return new FrameSourceConfig(
        topic,
        groupId,
        deadLetterTopic,
        maxInFlight,
        maxPollRecords,
        pollTimeout,
        commitInterval,
        drainTimeout,
        delivery);
  }

  public FrameSourceConfig withDelivery(Delivery delivery) {
    return new FrameSourceConfig(
        topic,
        groupId,
        deadLetterTopic,
        maxInFlight,
        maxPollRecords,
        pollTimeout,
        commitInterval,
        drainTimeout,
        delivery);
  }

  private static void requireText(String key, String value) {
    if (value == null || value.isBlank()) {
      throw new InvalidSettingException(key, "must not be empty");
    }
  }

  private static void requirePositive(String key, Duration value) {
    if (value == null || value.isNegative() || value.isZero()) {
      throw new InvalidSettingException(key, "must be positive, got " + value);
    }
  }
}
