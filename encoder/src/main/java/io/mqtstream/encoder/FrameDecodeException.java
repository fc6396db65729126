package io.mqtstream.encoder;

/** A frame whose pixels cannot be decoded; the engine sends it to the dead-letter topic. */
public final class FrameDecodeException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public FrameDecodeException(String message, Throwable cause) {
    super(message, cause);
  }

  public FrameDecodeException(String message) {
    super(message);
  }
}
