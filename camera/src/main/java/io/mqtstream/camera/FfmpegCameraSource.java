package io.mqtstream.camera;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Optional;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameGrabber;
import org.bytedeco.javacv.Frame;
import org.bytedeco.javacv.FrameGrabber;

/**
 * A camera read by FFmpeg through JavaCV: video files, {@code rtsp://}, {@code http(s)://} streams
 * and V4L2 devices ({@code /dev/videoN}).
 */
final class FfmpegCameraSource implements CameraSource {
  /** Network read timeout, in microseconds, so a dead stream fails instead of hanging. */
  private static final String TIMEOUT_MICROS = "5000000";

  private final String location;
  private final Kind kind;
  private FFmpegFrameGrabber grabber;

  enum Kind {
    FILE,
    RTSP,
    HTTP,
    DEVICE
  }

  FfmpegCameraSource(String location, Kind kind) {
    this.location = location;
    this.kind = kind;
  }

  @Override
  public void open() throws IOException {
    close();
    avutil.av_log_set_level(avutil.AV_LOG_ERROR);
    FFmpegFrameGrabber g = new FFmpegFrameGrabber(location);
    g.setPixelFormat(avutil.AV_PIX_FMT_BGR24);
    switch (kind) {
      case RTSP -> {
        g.setOption("rtsp_transport", "tcp");
        g.setOption("timeout", TIMEOUT_MICROS);
      }
      case HTTP -> {
        g.setOption("rw_timeout", TIMEOUT_MICROS);
        g.setOption("reconnect", "1");
      }
      case DEVICE -> g.setFormat("video4linux2");
      case FILE -> {}
    }
    try {
      g.start();
    } catch (FrameGrabber.Exception e) {
      g.close();
      throw new IOException("cannot open " + describe() + ": " + e.getMessage(), e);
    }
    grabber = g;
  }

  @Override
  public Optional<Captured> grab() throws IOException {
    if (grabber == null) {
      throw new IOException(describe() + " is not open");
    }
    try {
      Frame frame = grabber.grabImage();
      if (frame == null) {
        return Optional.empty();
      }
      return Optional.of(new Captured(toImage(frame)));
    } catch (FrameGrabber.Exception e) {
      throw new IOException("reading " + describe() + " failed: " + e.getMessage(), e);
    }
  }

  /**
   * Copies a BGR24 frame into a new image, row by row. FFmpeg pads rows to an alignment, and
   * JavaCV's converter then mistakes the padding for a fourth channel (seen at width 96), so the
   * real row stride is used here. A new image each time: the grabber reuses its buffer.
   */
  static BufferedImage toImage(Frame frame) {
    int w = frame.imageWidth;
    int h = frame.imageHeight;
    ByteBuffer pixels = (ByteBuffer) frame.image[0];
    BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
    byte[] dst = ((DataBufferByte) out.getRaster().getDataBuffer()).getData();
    int row = w * 3;
    for (int y = 0; y < h; y++) {
      pixels.get(y * frame.imageStride, dst, y * row, row);
    }
    return out;
  }

  @Override
  public boolean live() {
    return kind != Kind.FILE;
  }

  @Override
  public String describe() {
    return kind.name().toLowerCase(java.util.Locale.ROOT) + " " + location;
  }

  @Override
  public void close() {
    if (grabber != null) {
      try {
        grabber.close();
      } catch (FrameGrabber.Exception e) {
        // closing a broken stream: nothing left to save
      }
      grabber = null;
    }
  }
}
