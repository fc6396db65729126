package io.mqtstream.app.engine;

import java.util.ArrayDeque;
import java.util.Deque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;

/**
 * What the engine opened, closed in reverse order: a constructor that fails half-way closes what it
 * had opened, and a normal close closes everything once. A failing close is logged and the rest
 * still close.
 */
final class Closer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Closer.class);
  private final Deque<AutoCloseable> opened = new ArrayDeque<>();

  /** Registers a resource just opened; returns it. */
  <T extends AutoCloseable> T add(T resource) {
    synchronized (opened) {
      opened.push(resource);
    }
    return resource;
  }

  /** Registers a scheduler (or any disposable) just made; returns it. */
  <T extends Disposable> T add(T disposable) {
    add((AutoCloseable) disposable::dispose);
    return disposable;
  }

  @Override
  public void close() {
    while (true) {
      AutoCloseable next;
      synchronized (opened) {
        next = opened.poll();
      }
      if (next == null) {
        return;
      }
      try {
        next.close();
      } catch (Exception e) {
        log.warn("closing {} failed: {}", next, e.toString());
      }
    }
  }
}
