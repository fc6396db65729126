package io.mqtstream.app.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

class CloserTest {

  @Test
  void closesInReverseOrderOnceAndGoesOnPastAFailingClose() {
    List<String> closed = new ArrayList<>();
    Closer closer = new Closer();
    closer.add((AutoCloseable) () -> closed.add("first"));
    closer.add(
        (AutoCloseable)
            () -> {
              closed.add("second");
              throw new IllegalStateException("boom");
            });
    Scheduler scheduler = closer.add(Schedulers.newSingle("closer-test"));
    closer.close();
    closer.close();
    assertThat(scheduler.isDisposed()).isTrue();
    assertThat(closed).containsExactly("second", "first");
  }
}
