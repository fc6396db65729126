package io.mqtstream.app;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.mqtstream.ingest.FrameSourceConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Collectors;

/**
 * The engine's configuration: a typed record tree read from YAML ({@code configs/engine.yaml}
 * documents every key). Unknown keys and invalid values fail at start with the key's dotted path.
 *
 * @param kafka where the cluster is and which topics and group to use
 * @param ingest the frame source's bounds and timings
 */
public record EngineConfig(KafkaSettings kafka, Ingest ingest) {
  /** The shipped {@code configs/engine.yaml}, packaged in the jar: the defaults of every key. */
  private static final String DEFAULTS_RESOURCE = "/mqt/engine.yaml";

  public EngineConfig {
    if (kafka == null) {
      throw new ConfigException("kafka", "must be set");
    }
    if (ingest == null) {
      throw new ConfigException("ingest", "must be set");
    }
  }

  /** The defaults: {@code configs/engine.yaml} as shipped. */
  public static EngineConfig defaults() {
    return fromTree(defaultsTree());
  }

  /**
   * The frame source's settings.
   *
   * @param maxInFlight frames read and not yet acknowledged, at most
   * @param maxPollRecords records one poll may return; at most maxInFlight
   * @param pollTimeout e.g. {@code 100ms}
   * @param commitInterval e.g. {@code 200ms}
   * @param drainTimeout how long a graceful stop waits for in-flight frames
   */
  public record Ingest(
      int maxInFlight,
      int maxPollRecords,
      Duration pollTimeout,
      Duration commitInterval,
      Duration drainTimeout) {
    public static Ingest defaults() {
      return new Ingest(
          256, 64, Duration.ofMillis(100), Duration.ofMillis(200), Duration.ofSeconds(10));
    }
  }

  /** The frame source configuration these settings describe; fails naming the key. */
  public FrameSourceConfig frameSource() {
    try {
      return new FrameSourceConfig(
          kafka.framesTopic(),
          kafka.groupId(),
          kafka.deadLetterTopic(),
          ingest.maxInFlight(),
          ingest.maxPollRecords(),
          ingest.pollTimeout(),
          ingest.commitInterval(),
          ingest.drainTimeout());
    } catch (IllegalArgumentException e) {
      throw new ConfigException(
          "ingest." + e.getMessage().split(":", 2)[0], e.getMessage().split(":", 2)[1].trim(), e);
    }
  }

  /**
   * Reads a YAML file over the defaults (keys it leaves out keep their default) and validates it.
   */
  public static EngineConfig load(Path file) {
    JsonNode user;
    try {
      user = mapper().readTree(Files.readString(file));
    } catch (IOException e) {
      throw new ConfigException(file.toString(), "cannot read: " + e.getMessage(), e);
    }
    ObjectNode merged = defaultsTree();
    if (user != null && !user.isMissingNode() && !user.isNull()) {
      if (!user.isObject()) {
        throw new ConfigException(file.toString(), "must be a YAML mapping of keys");
      }
      merge(merged, (ObjectNode) user);
    }
    return fromTree(merged);
  }

  private static EngineConfig fromTree(JsonNode tree) {
    try {
      return validate(mapper().treeToValue(tree, EngineConfig.class));
    } catch (UnrecognizedPropertyException e) {
      throw new ConfigException(
          path(e),
          "unknown key (known: "
              + e.getKnownPropertyIds().stream()
                  .map(Object::toString)
                  .sorted()
                  .collect(Collectors.joining(", "))
              + ")",
          e);
    } catch (JsonMappingException e) {
      Throwable cause = e.getCause();
      if (cause instanceof ConfigException ce) {
        throw ce;
      }
      throw new ConfigException(path(e), "invalid value: " + e.getOriginalMessage(), e);
    } catch (IOException e) {
      throw new ConfigException("(config)", e.getMessage(), e);
    }
  }

  private static ObjectNode defaultsTree() {
    try (InputStream in = EngineConfig.class.getResourceAsStream(DEFAULTS_RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException(DEFAULTS_RESOURCE + " is missing from the class path");
      }
      return (ObjectNode) mapper().readTree(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Deep merge: mappings merge key by key, anything else in {@code over} replaces. */
  private static void merge(ObjectNode base, ObjectNode over) {
    over.fields()
        .forEachRemaining(
            e -> {
              JsonNode old = base.get(e.getKey());
              if (old instanceof ObjectNode o && e.getValue() instanceof ObjectNode n) {
                merge(o, n);
              } else {
                base.set(e.getKey(), e.getValue());
              }
            });
  }

  private static EngineConfig validate(EngineConfig config) {
    config.frameSource();
    return config;
  }

  private static String path(JsonMappingException e) {
    return e.getPath().stream()
        .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
        .collect(Collectors.joining("."));
  }

  static ObjectMapper mapper() {
    return new ObjectMapper(new YAMLFactory())
        .registerModule(new DurationModule())
        .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
        .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);
  }
}
