package io.mqtstream.app;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.mqtstream.app.engine.TokenBudget;
import io.mqtstream.ingest.Delivery;
import io.mqtstream.ingest.FrameSourceConfig;
import io.mqtstream.ingest.InvalidSettingException;
import io.mqtstream.nn.Engines;
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
 * @param model which checkpoint to serve and where
 * @param encoder encoder batching and decoding
 * @param reasoner prompt batching and answer length
 * @param window how many frames a prompt sees
 * @param questions the standing questions' defaults and cadence
 * @param budget how m is chosen
 * @param server the /metrics and /health endpoint
 */
public record EngineConfig(
    KafkaSettings kafka,
    Ingest ingest,
    Model model,
    Encoder encoder,
    Reasoner reasoner,
    Window window,
    Questions questions,
    Budget budget,
    Server server) {
  /** The shipped {@code configs/engine.yaml}, packaged in the jar: the defaults of every key. */
  private static final String DEFAULTS_RESOURCE = "/mqt/engine.yaml";

  public EngineConfig {
    require("kafka", kafka);
    require("ingest", ingest);
    require("model", model);
    require("encoder", encoder);
    require("reasoner", reasoner);
    require("window", window);
    require("questions", questions);
    require("budget", budget);
    require("server", server);
  }

  private static void require(String key, Object value) {
    if (value == null) {
      throw new ConfigException(key, "must be set");
    }
  }

  private static void positive(String key, long value) {
    if (value <= 0) {
      throw new ConfigException(key, "must be positive, was " + value);
    }
  }

  private static void positive(String key, Duration value) {
    if (value == null || value.isNegative() || value.isZero()) {
      throw new ConfigException(key, "must be a positive duration, was " + value);
    }
  }

  /**
   * The served checkpoint.
   *
   * @param dir folder with {@code encoder/} and {@code llm/}, or an MQT-LLaVA folder
   * @param name written into answers; empty = the folder's name
   * @param device {@code cpu}, {@code gpu} or {@code auto}
   * @param vision an MQT-LLaVA checkpoint's CLIP tower folder; empty: its {@code mm_vision_tower}
   *     as a path
   * @param dtype {@code fp32} or {@code fp16}: the type an MQT-LLaVA checkpoint's weights are held
   *     and run in (mqt-tiny runs in fp32)
   */
  public record Model(String dir, String name, String device, String vision, String dtype) {
    public Model {
      ConfigException.requireText("model.dir", dir);
      name = name == null ? "" : name;
      vision = vision == null ? "" : vision;
      dtype = dtype == null ? "fp32" : dtype;
      try {
        io.mqtstream.llava.MqtLlava.dtype(dtype);
      } catch (IllegalArgumentException e) {
        throw new ConfigException("model.dtype", e.getMessage());
      }
      try {
        Engines.DeviceSetting.parse(device);
      } catch (IllegalArgumentException e) {
        throw new ConfigException("model.device", e.getMessage());
      }
    }
  }

  /**
   * @param maxBatch frames encoded together
   * @param maxWait how long a partial batch waits
   * @param decodeThreads JPEG decoding threads
   */
  public record Encoder(int maxBatch, Duration maxWait, int decodeThreads) {
    public Encoder {
      positive("encoder.maxBatch", maxBatch);
      positive("encoder.maxWait", maxWait);
      positive("encoder.decodeThreads", decodeThreads);
    }
  }

  /**
   * @param maxBatch prompts in the running batch
   * @param maxWait how long an idle batch waits for company
   * @param maxQueue prompts waiting, at most
   * @param maxNewTokens answer length bound
   * @param maxStepTokens prompt positions prefilled per step, at most (0 = no bound)
   */
  public record Reasoner(
      int maxBatch, Duration maxWait, int maxQueue, int maxNewTokens, int maxStepTokens) {
    public Reasoner {
      if (maxStepTokens < 0) {
        throw new ConfigException(
            "reasoner.maxStepTokens", "must be 0 (no bound) or positive, was " + maxStepTokens);
      }
      positive("reasoner.maxBatch", maxBatch);
      positive("reasoner.maxWait", maxWait);
      positive("reasoner.maxQueue", maxQueue);
      positive("reasoner.maxNewTokens", maxNewTokens);
    }
  }

  /**
   * @param frames frames per prompt, T; 0 = the model's maximum
   */
  public record Window(int frames) {
    public Window {
      if (frames < 0) {
        throw new ConfigException("window.frames", "must be 0 or more, was " + frames);
      }
    }
  }

  /**
   * @param defaults questions for cameras without their own list
   * @param every ask every k-th frame
   */
  public record Questions(java.util.List<String> defaults, int every) {
    public Questions {
      defaults = defaults == null ? java.util.List.of() : java.util.List.copyOf(defaults);
      for (int i = 0; i < defaults.size(); i++) {
        ConfigException.requireText("questions.defaults[" + i + "]", defaults.get(i));
      }
      positive("questions.every", every);
    }
  }

  /**
   * The token budget (see {@code configs/engine.yaml} for each key).
   *
   * @param policy {@code adaptive} or {@code fixed}
   * @param allowed the values m may take, ascending
   * @param floor lowest adaptive m
   * @param ceiling highest m; 0 = M
   * @param fixedM m of the fixed policy; 0 = the ceiling
   * @param latencyTarget capture-to-answer latency to keep under
   * @param interval how often the signals are read
   * @param decreaseAfter overloaded looks in a row before a cut
   * @param cooldown after a cut, how long before the next
   * @param increaseAfter relaxed looks in a row before a step up
   * @param decreaseFactor multiplicative decrease
   * @param lowWater relaxed = every signal below this fraction of its limit
   * @param maxLag consumer lag counted as overload; 0 = off
   * @param overrides per-camera fixed m
   * @param floors per-camera lowest m (an accuracy floor above {@code floor}), e.g. {@code {gate:
   *     16}}
   * @param maxStride load shedding: when m is at its floor and the load still cannot be carried,
   *     ask on every k-th frame of each camera, k growing by one up to this (the frames between are
   *     answered as skipped); 1 = never shed
   */
  public record Budget(
      String policy,
      java.util.List<Integer> allowed,
      int floor,
      int ceiling,
      int fixedM,
      Duration latencyTarget,
      Duration interval,
      int decreaseAfter,
      Duration cooldown,
      int increaseAfter,
      double decreaseFactor,
      double lowWater,
      long maxLag,
      java.util.Map<String, Integer> overrides,
      java.util.Map<String, Integer> floors,
      int maxStride) {
    public Budget {
      try {
        TokenBudget.Policy.parse(policy);
      } catch (IllegalArgumentException e) {
        throw new ConfigException("budget.policy", e.getMessage());
      }
      if (allowed == null || allowed.isEmpty()) {
        throw new ConfigException("budget.allowed", "must list at least one m");
      }
      for (int i = 0; i < allowed.size(); i++) {
        positive("budget.allowed[" + i + "]", allowed.get(i));
        if (i > 0 && allowed.get(i) <= allowed.get(i - 1)) {
          throw new ConfigException("budget.allowed", "must be strictly ascending, was " + allowed);
        }
      }
      allowed = java.util.List.copyOf(allowed);
      positive("budget.floor", floor);
      if (ceiling < 0) {
        throw new ConfigException("budget.ceiling", "must be 0 (= M) or positive");
      }
      if (ceiling > 0 && ceiling < floor) {
        throw new ConfigException(
            "budget.ceiling", "must be at least budget.floor (" + floor + "), was " + ceiling);
      }
      if (fixedM < 0) {
        throw new ConfigException("budget.fixedM", "must be 0 (= ceiling) or positive");
      }
      positive("budget.latencyTarget", latencyTarget);
      positive("budget.interval", interval);
      positive("budget.decreaseAfter", decreaseAfter);
      if (cooldown == null || cooldown.isNegative()) {
        throw new ConfigException("budget.cooldown", "must be a duration of 0 or more");
      }
      positive("budget.increaseAfter", increaseAfter);
      if (!(decreaseFactor > 0 && decreaseFactor < 1)) {
        throw new ConfigException(
            "budget.decreaseFactor", "must be between 0 and 1, was " + decreaseFactor);
      }
      if (!(lowWater > 0 && lowWater < 1)) {
        throw new ConfigException("budget.lowWater", "must be between 0 and 1, was " + lowWater);
      }
      if (maxLag < 0) {
        throw new ConfigException("budget.maxLag", "must be 0 (off) or positive");
      }
      overrides = overrides == null ? java.util.Map.of() : java.util.Map.copyOf(overrides);
      overrides.forEach(
          (camera, m) -> {
            if (m == null || m <= 0) {
              throw new ConfigException("budget.overrides." + camera, "must be a positive m");
            }
          });
      floors = floors == null ? java.util.Map.of() : java.util.Map.copyOf(floors);
      floors.forEach(
          (camera, m) -> {
            if (m == null || m <= 0) {
              throw new ConfigException("budget.floors." + camera, "must be a positive m");
            }
          });
      if (maxStride < 1) {
        throw new ConfigException(
            "budget.maxStride", "must be 1 (never shed) or more, was " + maxStride);
      }
    }

    /** This budget under another policy. */
    public Budget withPolicy(String policy) {
      return new Budget(
          policy,
          allowed,
          floor,
          ceiling,
          fixedM,
          latencyTarget,
          interval,
          decreaseAfter,
          cooldown,
          increaseAfter,
          decreaseFactor,
          lowWater,
          maxLag,
          overrides,
          floors,
          maxStride);
    }
  }

  /**
   * @param port port of the dashboard ({@code /}), /metrics and /health; 0 = any free port; -1 =
   *     off
   * @param token what a change of standing questions from the dashboard must present ({@code
   *     Authorization: Bearer TOKEN}); empty = no token needed
   */
  public record Server(int port, String token) {
    public Server {
      if (port < -1 || port > 65535) {
        throw new ConfigException(
            "server.port", "must be -1 (off), 0 (any) or a port, was " + port);
      }
      token = token == null ? "" : token.trim();
    }

    @Override
    public String toString() {
      return "Server[port=" + port + ", token=" + (token.isEmpty() ? "none" : "(set)") + "]";
    }
  }

  /** This configuration with another budget (demo, load tests). */
  public EngineConfig withBudget(Budget budget) {
    return new EngineConfig(
        kafka, ingest, model, encoder, reasoner, window, questions, budget, server);
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
   * @param delivery {@code at-least-once} or {@code exactly-once} (see {@link Delivery})
   */
  public record Ingest(
      int maxInFlight,
      int maxPollRecords,
      Duration pollTimeout,
      Duration commitInterval,
      Duration drainTimeout,
      String delivery) {}

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
          ingest.drainTimeout(),
          Delivery.parse(ingest.delivery()));
    } catch (InvalidSettingException e) {
      String key =
          switch (e.key()) {
            case "topic" -> "kafka.framesTopic";
            case "groupId" -> "kafka.groupId";
            case "deadLetterTopic" -> "kafka.deadLetterTopic";
            default -> "ingest." + e.key();
          };
      throw new ConfigException(key, e.reason(), e);
    }
  }

  /**
   * Reads a YAML file over the defaults (keys it leaves out keep their default) and validates it.
   */
  public static EngineConfig load(Path file) {
    String text;
    try {
      text = Files.readString(file);
    } catch (IOException e) {
      throw new ConfigException(file.toString(), "cannot read: " + e.getMessage(), e);
    }
    return parse(text, file.toString());
  }

  /** YAML text over the defaults, like {@link #load}; {@code origin} names it in errors. */
  public static EngineConfig parse(String yaml, String origin) {
    if (yaml == null) {
      throw new ConfigException(origin, "no configuration text");
    }
    JsonNode user;
    try {
      user = mapper().readTree(yaml);
    } catch (IOException e) {
      throw new ConfigException(origin, "not valid YAML: " + e.getMessage(), e);
    }
    ObjectNode merged = defaultsTree();
    if (user != null && !user.isMissingNode() && !user.isNull()) {
      if (!user.isObject()) {
        throw new ConfigException(origin, "must be a YAML mapping of keys");
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

  /** The dotted path of the offending key; an empty or blank key shows as {@code ""}. */
  private static String path(JsonMappingException e) {
    String path =
        e.getPath().stream()
            .map(
                r ->
                    r.getFieldName() == null
                        ? "[" + r.getIndex() + "]"
                        : r.getFieldName().isBlank()
                            ? "\"" + r.getFieldName() + "\""
                            : r.getFieldName())
            .collect(Collectors.joining("."));
    return path.isBlank() ? "(top level)" : path;
  }

  static ObjectMapper mapper() {
    return new ObjectMapper(new YAMLFactory())
        .registerModule(new DurationModule())
        .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
        .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);
  }
}
