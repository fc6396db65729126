package io.mqtstream.app.engine;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Each camera's last T frames since its last scene start, and which of them to ask on: every k-th
 * frame of a scene ({@code questions.every}), counting from the scene's first frame. A scene start
 * empties the camera's window, so a prompt never mixes two scenes. Used from one thread (the
 * pipeline's), so it is not synchronised.
 *
 * @param <T> what a frame is by now (its visual tokens)
 */
final class CameraWindows<T> {
  private final int frames;
  private final int every;
  private final Map<String, Window<T>> windows = new HashMap<>();

  /**
   * @param frames T, frames per window (≥ 1)
   * @param every ask on every k-th frame of a scene (≥ 1)
   */
  CameraWindows(int frames, int every) {
    if (frames < 1 || every < 1) {
      throw new IllegalArgumentException("frames and every must be ≥ 1: " + frames + ", " + every);
    }
    this.frames = frames;
    this.every = every;
  }

  /**
   * Adds the camera's next frame.
   *
   * @return the window, oldest first and ending with this frame, when this is a frame to ask on;
   *     empty otherwise
   */
  Optional<List<T>> add(String camera, T frame, boolean sceneStart) {
    Window<T> w = windows.computeIfAbsent(camera, c -> new Window<>());
    if (sceneStart) {
      w.frames.clear();
      w.position = -1;
    }
    w.frames.addLast(frame);
    w.position++;
    while (w.frames.size() > frames) {
      w.frames.removeFirst();
    }
    return (w.position + 1) % every == 0
        ? Optional.of(new ArrayList<>(w.frames))
        : Optional.empty();
  }

  private static final class Window<T> {
    final ArrayDeque<T> frames = new ArrayDeque<>();
    long position = -1; // index of the newest frame in its scene
  }
}
