// A small dotted world map (an inline SVG, no file to fetch) that places each
// acceptor at its location hint. The land is a handful of rough outlines
// sampled on a grid of dots: accurate enough to tell Oregon from Sydney, and
// drawn once.

const svgNs = "http://www.w3.org/2000/svg";

/** Map bounds (equirectangular): longitude -180..180, latitude 80..-56. */
const north = 80;
const south = -56;
const width = 360;
const height = north - south;
/** Degrees between dots. */
const step = 4;

/** Durable Object location hints: a name, and roughly where their data centres are [longitude, latitude]. */
export const regions: Record<string, { name: string; at: [number, number] }> = {
  wnam: { name: "Western North America", at: [-121, 40] },
  enam: { name: "Eastern North America", at: [-77, 39] },
  sam: { name: "South America", at: [-47, -23] },
  weur: { name: "Western Europe", at: [3, 49] },
  eeur: { name: "Eastern Europe", at: [23, 50] },
  apac: { name: "Asia-Pacific", at: [118, 22] },
  oc: { name: "Oceania", at: [151, -34] },
  afr: { name: "Africa", at: [24, -28] },
  me: { name: "Middle East", at: [52, 25] },
};

/** Rough coastlines, each a ring of "longitude latitude" points. */
const coastlines: string[] = [
  // North and Central America
  "-166 68,-156 71,-140 70,-128 70,-115 68,-100 68,-95 72,-85 70,-80 63,-90 58,-82 52,-78 56," +
    "-77 62,-68 59,-62 56,-56 52,-60 46,-66 44,-70 42,-74 40,-76 35,-81 31,-80 26,-82 26,-83 29," +
    "-90 30,-97 28,-97 22,-95 18,-90 21,-87 21,-88 15,-83 11,-80 8,-78 8,-80 7,-86 11,-92 14," +
    "-105 20,-110 24,-115 30,-118 34,-122 37,-124 42,-124 48,-130 54,-136 58,-145 60,-152 59," +
    "-158 57,-165 55,-160 59,-165 62",
  // Greenland
  "-55 60,-45 60,-40 65,-22 70,-20 78,-30 83,-50 82,-65 79,-70 76,-58 75,-53 70,-52 65",
  // South America
  "-80 9,-75 11,-68 12,-62 10,-55 6,-50 2,-48 -1,-40 -3,-35 -6,-35 -9,-39 -15,-40 -22,-45 -24," +
    "-48 -28,-53 -34,-58 -38,-62 -40,-65 -45,-68 -50,-69 -55,-72 -53,-75 -48,-73 -40,-71 -30," +
    "-70 -18,-76 -14,-81 -6,-80 -2,-78 2,-77 7",
  // Africa
  "-17 21,-16 28,-10 30,-9 34,-5 36,3 37,10 37,11 33,20 31,25 32,32 31,34 28,38 20,43 12,51 12," +
    "51 10,45 2,40 -3,39 -10,40 -15,35 -20,35 -25,32 -29,27 -34,20 -35,18 -32,15 -27,12 -17," +
    "13 -10,12 -5,9 -1,9 4,5 6,-2 5,-8 4,-13 8,-17 14",
  // Madagascar
  "44 -25,47 -25,50 -15,49 -12,44 -17",
  // Eurasia
  "-10 36,-9 43,-2 43,-1 46,-5 48,2 51,5 53,8 54,8 57,12 56,11 59,5 58,5 62,14 67,20 70,28 71," +
    "40 68,44 66,55 68,68 70,72 73,80 73,90 76,105 78,112 74,130 72,140 72,160 70,170 70,180 68," +
    "180 65,178 62,170 60,163 58,157 51,155 57,143 59,136 54,140 48,135 43,130 42,128 35,126 37," +
    "125 40,121 40,117 38,122 32,121 28,117 23,110 21,106 18,109 12,105 9,101 13,100 8,103 2," +
    "101 3,98 8,98 16,94 17,92 22,87 22,80 15,77 8,73 17,72 21,67 24,58 25,56 26,59 22,57 18," +
    "52 16,45 13,43 13,39 21,35 28,34 31,36 36,28 37,26 40,23 40,23 37,21 38,19 42,14 45,12 44," +
    "16 41,18 40,15 38,12 42,9 44,3 43,0 39,-2 37,-6 36",
  // Great Britain and Ireland
  "-6 50,2 51,0 53,-2 56,-3 58,-6 58,-5 55,-3 54,-5 52",
  "-10 52,-6 52,-6 55,-8 55",
  // Iceland
  "-24 64,-14 64,-14 66,-22 66",
  // Japan
  "130 31,135 34,140 35,142 40,141 45,145 44,141 41,140 38,137 37,133 35,130 34",
  // Indonesia, the Philippines, New Guinea
  "95 5,98 4,106 -6,102 -4",
  "109 1,112 3,117 7,119 1,116 -4,110 -3",
  "105 -6,115 -8,106 -8",
  "120 18,122 18,126 7,122 7",
  "131 -1,141 -3,150 -10,143 -9,138 -8",
  // Australia and New Zealand
  "114 -22,114 -26,115 -34,118 -35,124 -34,131 -31,135 -35,138 -35,141 -38,146 -39,150 -37," +
    "153 -32,153 -25,146 -19,142 -11,141 -17,136 -12,132 -11,129 -15,123 -17,120 -20",
  "172 -34,178 -38,175 -42,171 -46,167 -46,172 -41",
];

const land: [number, number][][] = coastlines.map((ring) =>
  ring.split(",").map((point) => point.split(" ").map(Number) as [number, number]),
);

function inside([x, y]: [number, number], ring: [number, number][]): boolean {
  let within = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i] as [number, number];
    const [xj, yj] = ring[j] as [number, number];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) within = !within;
  }
  return within;
}

function project([longitude, latitude]: [number, number]): [number, number] {
  return [longitude + 180, north - latitude];
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>) {
  const element = document.createElementNS(svgNs, tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  return element;
}

export interface MapMarker {
  id: string;
  location: string;
  reachable: boolean;
}

export class WorldMap {
  readonly element: SVGSVGElement;
  private readonly markers: SVGGElement;

  constructor() {
    this.element = svg("svg", {
      viewBox: `0 0 ${width} ${height}`,
      class: "world-map",
      role: "img",
      "aria-label": "Where the acceptors are",
    });
    const dots = svg("g", { class: "land" });
    for (let latitude = north - step / 2; latitude > south; latitude -= step) {
      for (let longitude = -180 + step / 2; longitude < 180; longitude += step) {
        if (!land.some((ring) => inside([longitude, latitude], ring))) continue;
        const [cx, cy] = project([longitude, latitude]);
        dots.append(svg("circle", { cx, cy, r: 1.15 }));
      }
    }
    this.markers = svg("g", { class: "markers" });
    this.element.append(dots, this.markers);
  }

  /** One marker per acceptor at its region; several in one region sit side by side. */
  update(acceptors: readonly MapMarker[]): void {
    const perRegion = new Map<string, number>();
    const drawn: SVGGElement[] = [];
    for (const acceptor of acceptors) {
      const region = regions[acceptor.location];
      if (!region) continue;
      const nth = perRegion.get(acceptor.location) ?? 0;
      perRegion.set(acceptor.location, nth + 1);
      const [x, y] = project(region.at);
      const group = svg("g", {
        class: `marker ${acceptor.reachable ? "up" : "down"}`,
        transform: `translate(${x + nth * 9} ${y})`,
        "data-acceptor": acceptor.id,
      });
      const title = svg("title", {});
      title.textContent = `${acceptor.id} · ${region.name} · ${acceptor.reachable ? "reachable" : "unreachable"}`;
      group.append(
        title,
        svg("circle", { class: "halo", r: 7 }),
        svg("circle", { class: "dot", r: 3.6 }),
        labelFor(acceptor),
      );
      drawn.push(group);
    }
    this.markers.replaceChildren(...drawn);
  }
}

function labelFor(acceptor: MapMarker): SVGTextElement {
  const text = svg("text", { class: "tag", x: 0, y: -10, "text-anchor": "middle" });
  text.textContent = acceptor.id.replace(/^acceptor-/, "#");
  return text;
}
