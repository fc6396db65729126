package io.mqtstream.camera;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.ServiceLoader;

/**
 * Turns a camera URI into a {@link CameraSource}: {@code rtsp://…}, {@code http(s)://…}, {@code
 * /dev/videoN} or {@code v4l2:/dev/videoN}, {@code synthetic:…} (provided by the synthetic world
 * through {@link SyntheticSourceProvider}), or a path to a video file.
 */
public final class CameraSources {
  private CameraSources() {}

  /**
   * @throws IllegalArgumentException naming the URI when no source can read it
   */
  public static CameraSource open(String uri) {
    String lower = uri.toLowerCase(Locale.ROOT);
    if (lower.startsWith("rtsp://") || lower.startsWith("rtsps://")) {
      return new FfmpegCameraSource(uri, FfmpegCameraSource.Kind.RTSP);
    }
    if (lower.startsWith("http://") || lower.startsWith("https://")) {
      return new FfmpegCameraSource(uri, FfmpegCameraSource.Kind.HTTP);
    }
    if (lower.startsWith("v4l2:")) {
      return new FfmpegCameraSource(
          uri.substring("v4l2:".length()), FfmpegCameraSource.Kind.DEVICE);
    }
    if (lower.startsWith("/dev/video")) {
      return new FfmpegCameraSource(uri, FfmpegCameraSource.Kind.DEVICE);
    }
    if (lower.startsWith("synthetic:")) {
      return synthetic(uri.substring("synthetic:".length()));
    }
    String path = lower.startsWith("file:") ? uri.substring("file:".length()) : uri;
    if (!Files.isRegularFile(Path.of(path))) {
      throw new IllegalArgumentException(
          "camera source '"
              + uri
              + "': not a file, and not rtsp://, http(s)://, /dev/videoN or synthetic:");
    }
    return new FfmpegCameraSource(path, FfmpegCameraSource.Kind.FILE);
  }

  private static CameraSource synthetic(String spec) {
    SyntheticSourceProvider provider =
        ServiceLoader.load(SyntheticSourceProvider.class)
            .findFirst()
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        "camera source 'synthetic:"
                            + spec
                            + "': the synthetic world is not on the class path"));
    return provider.open(SyntheticSourceProvider.parse(spec));
  }
}
