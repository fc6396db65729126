package io.mqtstream.training;

import io.mqtstream.wire.FrameRecord;
import io.mqtstream.wire.JpegEncoder;
import io.mqtstream.world.Clip;
import java.util.ArrayList;
import java.util.List;

/**
 * A clip's frames as a camera sends them, one JPEG {@link FrameRecord} per frame: training,
 * evaluation and the token probe all see the pixels the engine sees. One instance per user (it
 * holds a JPEG encoder).
 */
final class CameraFrames {
  private final JpegEncoder jpeg = new JpegEncoder(0.85f);
  private final String camera;

  /**
   * @param camera the camera id the records carry
   */
  CameraFrames(String camera) {
    this.camera = camera;
  }

  List<FrameRecord> of(Clip clip) {
    List<FrameRecord> frames = new ArrayList<>();
    for (int t = 0; t < clip.frames(); t++) {
      frames.add(
          new FrameRecord(
              camera,
              t,
              0,
              clip.imageSize(),
              clip.imageSize(),
              FrameRecord.Encoding.JPEG,
              jpeg.encode(clip.render(t))));
    }
    return frames;
  }
}
