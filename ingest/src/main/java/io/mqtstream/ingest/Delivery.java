package io.mqtstream.ingest;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * What a reader of the engine's outputs may count on when the engine or the broker fails.
 *
 * <ul>
 *   <li>{@link #AT_LEAST_ONCE}: outputs are written as soon as they are ready and a frame's offset
 *       is committed after the broker has them; after a crash the frames since the last commit are
 *       processed again, so a reader may see an answer twice.
 *   <li>{@link #EXACTLY_ONCE}: a frame's outputs (answers, dead letters) and its offset are written
 *       in one Kafka transaction; a {@code read_committed} reader sees each exactly once. Outputs
 *       become visible when their transaction commits (every commit interval).
 * </ul>
 */
public enum Delivery {
  AT_LEAST_ONCE("at-least-once"),
  EXACTLY_ONCE("exactly-once");

  private final String key;

  Delivery(String key) {
    this.key = key;
  }

  /** The configuration spelling: {@code at-least-once} or {@code exactly-once}. */
  public String key() {
    return key;
  }

  /** Parses the configuration spelling; anything else fails naming the key {@code delivery}. */
  public static Delivery parse(String value) {
    for (Delivery d : values()) {
      if (d.key.equals(value)) {
        return d;
      }
    }
    throw new InvalidSettingException(
        "delivery",
        "must be one of "
            + Arrays.stream(values()).map(Delivery::key).collect(Collectors.joining(", "))
            + ", got "
            + value);
  }
}
