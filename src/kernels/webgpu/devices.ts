/** The default device and the list of devices webgrad opened. */
import { Device, type DeviceOptions, GPUOpError } from './device';

let defaultDevice: Device | null = null;
const opened = new Set<Device>();

/** Every device webgrad opened and has not destroyed. */
export const openDevices = (): Device[] => [...opened].filter((d) => !d.isLost);
let pending: Promise<Device> | null = null;

/** Opens the default device once; later calls return it. Call before the first op. */
export function init(options: DeviceOptions = {}): Promise<Device> {
  if (defaultDevice) return Promise.resolve(defaultDevice);
  pending ??= Device.create(options)
    .then((d) => {
      opened.add(d);
      return (defaultDevice = d);
    })
    .finally(() => {
      pending = null;
    });
  return pending;
}

/** Opens an additional device (on the same or another adapter), e.g. for data parallelism. */
export async function createDevice(options: DeviceOptions = {}): Promise<Device> {
  const d = await Device.create(options);
  opened.add(d);
  return d;
}

/** The device ops use when none is given; throws if `init()` has not been awaited. */
export function getDefaultDevice(): Device {
  if (!defaultDevice) throw new GPUOpError('webgrad: no device yet: `await init()` before creating tensors');
  if (defaultDevice.isLost) defaultDevice.check();
  return defaultDevice;
}

/** Makes `device` the default for ops and creation functions that are not given one. */
export function setDefaultDevice(device: Device): void {
  opened.add(device);
  defaultDevice = device;
}
