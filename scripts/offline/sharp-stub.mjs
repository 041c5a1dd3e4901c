// Stands in for `sharp` in the offline bundle (its libvips binaries are not carried to the GPU machine):
// module-level settings such as sharp.cache(false) are accepted, decoding an image fails with a clear message.
const unavailable = () => {
  throw new Error('image decoding with sharp is not part of the offline bundle (build/offline); use .npy inputs or random data there');
};
const sharp = new Proxy(unavailable, { get: (_t, prop) => (prop === 'then' ? undefined : () => undefined) });
export default sharp;
