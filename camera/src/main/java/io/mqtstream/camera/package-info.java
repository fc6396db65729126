/**
 * Camera integrations: sources (files, RTSP/HTTP streams, V4L2 devices, the synthetic world) and
 * the {@link io.mqtstream.camera.CameraPublisher} that puts them on the frames topic.
 */
package io.mqtstream.camera;
