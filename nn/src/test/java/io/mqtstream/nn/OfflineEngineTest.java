package io.mqtstream.nn;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves libtorch comes from the jars on the class path: a fresh JVM with an empty DJL cache, every
 * HTTP(S) connection sent to a dead proxy, and DJL's offline flag, still runs an NDArray op.
 */
class OfflineEngineTest {

  /** Run in the child JVM: a matmul and a sum whose result we know. */
  public static void main(String[] args) {
    try (NDManager m = NDManager.newBaseManager(Engines.pytorch().defaultDevice(), "PyTorch")) {
      NDArray a = m.arange(6f).reshape(2, 3);
      NDArray b = m.ones(new ai.djl.ndarray.types.Shape(3, 2));
      float sum = a.matMul(b).sum().getFloat();
      System.out.println(
          "engine="
              + Engines.pytorch().getEngineName()
              + " version="
              + Engines.pytorch().getVersion()
              + " sum="
              + sum);
    }
  }

  @Test
  void ndArrayOpRunsWithTheNetworkUnreachable(@TempDir Path cache) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Dai.djl.offline=true");
    cmd.add("-DDJL_CACHE_DIR=" + cache.resolve("djl"));
    cmd.add("-DENGINE_CACHE_DIR=" + cache.resolve("engine"));
    for (String proto : List.of("http", "https")) {
      cmd.add("-D" + proto + ".proxyHost=127.0.0.1");
      cmd.add("-D" + proto + ".proxyPort=9"); // discard port: nothing listens, connections fail
      cmd.add("-D" + proto + ".nonProxyHosts=");
    }
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(OfflineEngineTest.class.getName());
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    boolean exited = p.waitFor(120, TimeUnit.SECONDS);
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(exited).as(out).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    // sum over rows of [0..5] reshaped 2x3 times ones(3x2) = 2 * (0+1+2+3+4+5) = 30
    // the libtorch the build selected (${libtorch.version}: 2.7.1 on CPU, another under -Pcuda)
    String expected = System.getProperty("mqt.libtorch.version");
    assertThat(expected).as("surefire passes the build's libtorch version").isNotBlank();
    assertThat(out).contains("engine=PyTorch").contains("version=" + expected).contains("sum=30.0");
    assertThat(listFiles(cache))
        .as("libtorch was extracted from the jar into the fresh cache")
        .anyMatch(f -> f.contains("libtorch"));
  }

  private static List<String> listFiles(Path dir) throws IOException {
    try (var s = Files.walk(dir)) {
      return s.map(Path::toString).toList();
    }
  }
}
