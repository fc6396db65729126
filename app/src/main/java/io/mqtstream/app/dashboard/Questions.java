package io.mqtstream.app.dashboard;

import java.util.List;
import java.util.Map;

/**
 * The standing questions as the dashboard reads and changes them. A change goes through the {@code
 * queries} topic like any other client's, so every engine process in the group applies it.
 */
public interface Questions {
  /** The configured defaults. */
  List<String> defaults();

  /** The lists set through the queries topic: camera id (or {@code *} for all) → questions. */
  Map<String, List<String>> overrides();

  /**
   * Sets a camera's (or, for {@code *}, every camera's) questions; an empty list goes back to the
   * defaults. Returns once the broker has the change.
   */
  void set(String camera, List<String> questions) throws Exception;
}
