package io.mqtstream.world;

/**
 * One object of a clip: what it is, where its centre is at frame 0 (pixels), its velocity (pixels
 * per frame), and the frames in which it is visible, {@code [appears, leaves)}.
 */
public record SceneObject(
    Shape shape,
    Colour colour,
    boolean large,
    double x,
    double y,
    double vx,
    double vy,
    int appears,
    int leaves) {

  /** Centre x at frame t. */
  public double x(int t) {
    return x + vx * t;
  }

  /** Centre y at frame t. */
  public double y(int t) {
    return y + vy * t;
  }

  public boolean visibleAt(int t) {
    return t >= appears && t < leaves;
  }

  /** Half the side of the object's bounding box, pixels. */
  public double radius(int imageSize) {
    return (large ? 0.16 : 0.10) * imageSize;
  }

  /** "red circle". */
  public String name() {
    return colour.word() + " " + shape.word();
  }
}
