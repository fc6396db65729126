package io.mqtstream.camera;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mqtstream.wire.FrameHeaders;
import io.mqtstream.world.Clip;
import io.mqtstream.world.Question;
import io.mqtstream.world.Split;
import io.mqtstream.world.SyntheticWorld;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A camera that films the synthetic world: clip after clip of one split, frame by frame. Each frame
 * carries its ground truth in headers, so answers can be checked downstream: {@value
 * #FrameHeaders.CLIP_SEED}, {@value #FrameHeaders.CLIP_FRAME} and {@value #FrameHeaders.TRUTH} (a
 * JSON object from each question the clip can answer, as of this frame, to its answer).
 */
public final class SyntheticCamera implements CameraSource {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final SyntheticWorld world;
  private final Split split;
  private final long firstClip;
  private final long clips;
  private long clipIndex;
  private int frame;
  private Clip clip;

  /**
   * @param clips how many clips to film; 0 = without end
   */
  public SyntheticCamera(SyntheticWorld world, Split split, long firstClip, long clips) {
    this.world = world;
    this.split = split;
    this.firstClip = firstClip;
    this.clips = clips;
  }

  @Override
  public void open() {
    clipIndex = 0;
    frame = 0;
    clip = null;
  }

  @Override
  public Optional<Captured> grab() {
    if (clips > 0 && clipIndex >= clips) {
      return Optional.empty();
    }
    if (clip == null) {
      clip = world.clip(split.seed(firstClip + clipIndex));
    }
    Map<String, String> truth = new LinkedHashMap<>();
    for (Question q : world.questions(clip, frame)) {
      truth.put(q.text(), q.answer());
    }
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put(FrameHeaders.CLIP_SEED, Long.toString(clip.seed()));
    headers.put(FrameHeaders.CLIP_FRAME, Integer.toString(frame));
    if (frame == 0) {
      headers.put(FrameHeaders.SCENE_START, "true");
    }
    try {
      headers.put(FrameHeaders.TRUTH, JSON.writeValueAsString(truth));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    Captured out = new Captured(clip.render(frame), headers);
    if (++frame == clip.frames()) {
      frame = 0;
      clip = null;
      clipIndex++;
    }
    return Optional.of(out);
  }

  @Override
  public boolean live() {
    return false;
  }

  @Override
  public String describe() {
    return "synthetic world, "
        + split.name().toLowerCase(java.util.Locale.ROOT)
        + " split from clip "
        + firstClip;
  }

  @Override
  public void close() {}
}
