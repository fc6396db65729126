package io.mqtstream.wire;

import org.apache.kafka.common.errors.SerializationException;

/**
 * A frame that cannot be read or written: names the offending field so a dead-lettered record says
 * exactly what was wrong with it.
 */
public final class FrameFormatException extends SerializationException {
  private static final long serialVersionUID = 1L;

  private final String field;

  public FrameFormatException(String field, String reason) {
    super(field + ": " + reason);
    this.field = field;
  }

  /** The field of the wire format that was wrong ({@code magic}, {@code version}, ...). */
  public String field() {
    return field;
  }
}
