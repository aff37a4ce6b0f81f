// Where the location hints are, roughly: enough to send a client to the
// acceptor nearest to it before any round trip has been measured. The points
// are the regions' usual centres of gravity (a hint names a region, not a
// city), so "nearest" is a first guess that measured round trips replace.

/** A point on the globe, in degrees: where a request came from, or a hint's region. */
export interface Coordinates {
  latitude: number;
  longitude: number;
}

/** `{latitude, longitude}` from values as a platform hands them (numbers or numeric strings), if both are valid. */
export function coordinatesOf(latitude: unknown, longitude: unknown): Coordinates | undefined {
  if (latitude === undefined || latitude === null || longitude === undefined || longitude === null)
    return undefined;
  if (latitude === "" || longitude === "") return undefined;
  const lat = Number(latitude);
  const lon = Number(longitude);
  if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180)
    return undefined;
  return { latitude: lat, longitude: lon };
}

/** Latitude and longitude in degrees of each location hint's region. */
const hintCentres: Readonly<Record<string, readonly [number, number]>> = {
  wnam: [37.4, -122.1],
  enam: [39.0, -77.5],
  sam: [-23.5, -46.6],
  weur: [50.1, 8.7],
  eeur: [52.2, 21.0],
  apac: [1.35, 103.8],
  "apac-ne": [35.7, 139.7],
  "apac-se": [1.35, 103.8],
  oc: [-33.9, 151.2],
  afr: [-26.2, 28.0],
  me: [25.3, 55.3],
};

/** The centre of a location hint's region, or undefined for a hint this table does not know. */
export function hintCentre(hint: string): Coordinates | undefined {
  const centre = hintCentres[hint];
  return centre === undefined ? undefined : { latitude: centre[0], longitude: centre[1] };
}

/**
 * The hint among `candidates` whose region is nearest to a point: the region a
 * write came from, for the leader's weighing (core/leader-placement.ts).
 */
export function nearestHint(point: Coordinates, candidates: readonly string[]): string | undefined {
  const here: [number, number] = [point.latitude, point.longitude];
  let best: string | undefined;
  let bestKm = Number.POSITIVE_INFINITY;
  for (const hint of candidates) {
    const centre = hintCentres[hint];
    if (centre === undefined) continue;
    const km = distanceKm(here, centre as [number, number]);
    if (km < bestKm) {
      best = hint;
      bestKm = km;
    }
  }
  return best;
}

/** Great-circle distance in km between two points given in degrees. */
function distanceKm(a: readonly [number, number], b: readonly [number, number]): number {
  const radians = Math.PI / 180;
  const dLat = (b[0] - a[0]) * radians;
  const dLon = (b[1] - a[1]) * radians;
  const h =
    Math.sin(dLat / 2) ** 2 + Math.cos(a[0] * radians) * Math.cos(b[0] * radians) * Math.sin(dLon / 2) ** 2;
  return 12_742 * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * The acceptors ordered by the distance of their hint's region from a point,
 * nearest first; those with an unknown hint keep their order at the end.
 */
export function nearestByLocation(
  acceptors: readonly { name: string; location: string }[],
  latitude: number,
  longitude: number,
): string[] {
  const here: [number, number] = [latitude, longitude];
  const placed = acceptors
    .filter((a) => hintCentres[a.location] !== undefined)
    .map((a) => ({ name: a.name, km: distanceKm(here, hintCentres[a.location] as [number, number]) }))
    .sort((x, y) => x.km - y.km)
    .map((a) => a.name);
  return [...placed, ...acceptors.filter((a) => hintCentres[a.location] === undefined).map((a) => a.name)];
}
