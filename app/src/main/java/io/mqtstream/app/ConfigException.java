package io.mqtstream.app;

/** A configuration value that is missing, unknown or invalid; names the key and the reason. */
public final class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String key;

  public ConfigException(String key, String reason) {
    super(key + ": " + reason);
    this.key = key;
  }

  public ConfigException(String key, String reason, Throwable cause) {
    super(key + ": " + reason, cause);
    this.key = key;
  }

  /** The dotted path of the offending key, e.g. {@code kafka.bootstrapServers}. */
  public String key() {
    return key;
  }

  static void requireText(String key, String value) {
    if (value == null || value.isBlank()) {
      throw new ConfigException(key, "must be set");
    }
  }
}
