package io.mqtstream.wire;

import java.util.Objects;

/**
 * One camera frame as it travels on the {@code frames} topic: who captured it, when, its size and
 * its encoded pixels. Immutable; the payload array is owned by the record and must not be mutated.
 *
 * <p>Invariants (checked at construction, so a bad record never reaches the wire): a non-blank
 * camera id of at most {@value #MAX_CAMERA_ID_BYTES} UTF-8 bytes, a non-negative sequence, width
 * and height in 1..{@value #MAX_SIDE}, and for {@link Encoding#RAW_RGB} exactly {@code width *
 * height * 3} payload bytes.
 */
public record FrameRecord(
    String cameraId,
    long sequence,
    long captureMicros,
    int width,
    int height,
    Encoding encoding,
    byte[] payload) {

  /** The largest width or height a frame may declare. */
  public static final int MAX_SIDE = 16_384;

  /** The longest camera id, in UTF-8 bytes. */
  public static final int MAX_CAMERA_ID_BYTES = 255;

  /** How the payload encodes the pixels. The wire code is the enum's {@link #code()}. */
  public enum Encoding {
    JPEG(0),
    RAW_RGB(1);

    private final int code;

    Encoding(int code) {
      this.code = code;
    }

    public int code() {
      return code;
    }

    static Encoding fromCode(int code) {
      for (Encoding e : values()) {
        if (e.code == code) {
          return e;
        }
      }
      throw new FrameFormatException("encoding", "unknown encoding code " + code);
    }
  }

  public FrameRecord {
    Objects.requireNonNull(cameraId, "cameraId");
    Objects.requireNonNull(encoding, "encoding");
    Objects.requireNonNull(payload, "payload");
    if (cameraId.isBlank()) {
      throw new FrameFormatException("cameraId", "must not be blank");
    }
    if (cameraId.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_CAMERA_ID_BYTES) {
      throw new FrameFormatException("cameraId", "longer than " + MAX_CAMERA_ID_BYTES + " bytes");
    }
    if (sequence < 0) {
      throw new FrameFormatException("sequence", "negative: " + sequence);
    }
    checkSide("width", width);
    checkSide("height", height);
    if (encoding == Encoding.RAW_RGB && payload.length != (long) width * height * 3) {
      throw new FrameFormatException(
          "payload",
          "raw RGB "
              + width
              + "x"
              + height
              + " needs "
              + ((long) width * height * 3)
              + " bytes, got "
              + payload.length);
    }
  }

  private static void checkSide(String field, int value) {
    if (value < 1 || value > MAX_SIDE) {
      throw new FrameFormatException(field, "must be in 1.." + MAX_SIDE + ", got " + value);
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof FrameRecord r
        && sequence == r.sequence
        && captureMicros == r.captureMicros
        && width == r.width
        && height == r.height
        && cameraId.equals(r.cameraId)
        && encoding == r.encoding
        && java.util.Arrays.equals(payload, r.payload);
  }

  @Override
  public int hashCode() {
    return Objects.hash(cameraId, sequence, captureMicros, width, height, encoding)
        + 31 * java.util.Arrays.hashCode(payload);
  }

  @Override
  public String toString() {
    return "FrameRecord[camera="
        + cameraId
        + ", seq="
        + sequence
        + ", "
        + width
        + "x"
        + height
        + " "
        + encoding
        + ", "
        + payload.length
        + " bytes]";
  }
}
