package io.mqtstream.camera;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.Optional;

/**
 * Where a camera's pictures come from: a file, a network stream, a device or the synthetic world. A
 * source may be opened again after a failure or at the end of a file.
 */
public interface CameraSource extends AutoCloseable {

  /** Opens (or re-opens) the source. */
  void open() throws IOException;

  /** The next picture, or empty at the end of the stream. Fails if the stream broke. */
  Optional<Captured> grab() throws IOException;

  /** Whether the source is live (a stream or device): drops are reconnected, not ended. */
  boolean live();

  /** What the source is, for logs. */
  String describe();

  @Override
  void close();

  /**
   * One picture and anything known about it.
   *
   * @param image the RGB picture
   * @param headers extra Kafka headers to send with the frame (e.g. the synthetic world's ground
   *     truth)
   */
  record Captured(BufferedImage image, java.util.Map<String, String> headers) {
    public Captured(BufferedImage image) {
      this(image, java.util.Map.of());
    }
  }
}
