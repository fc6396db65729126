package io.mqtstream.ingest;

/** A setting of the frame source that is missing or out of range; {@link #key()} names it. */
public final class InvalidSettingException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final String key;
  private final String reason;

  InvalidSettingException(String key, String reason) {
    super(key + ": " + reason);
    this.key = key;
    this.reason = reason;
  }

  /** The setting's name, a component of {@link FrameSourceConfig} (e.g. {@code maxInFlight}). */
  public String key() {
    return key;
  }

  /** What is wrong with its value. */
  public String reason() {
    return reason;
  }
}
