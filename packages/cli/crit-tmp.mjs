import { readFileSync } from 'node:fs';
import { decodeImage } from '@lrpseg/datasets';
for (const f of process.argv.slice(2)) { const m = decodeImage(readFileSync(f), f);
  const drawn=(x,y)=>Math.hypot((x-140)/9,(y-90)/6)<1.35; const T=[],M=[];
  for (let y=0;y<m.height;y++) for (let x=0;x<m.width;x++){ if(drawn(x,y))T.push([x,y]); if(m.data[y*m.width+x]>0.5)M.push([x,y]); }
  const inter=M.filter(([x,y])=>drawn(x,y)).length; const iou=inter/(M.length+T.length-inter);
  const d=M.map(([x,y])=>Math.min(...T.map(([u,v])=>Math.hypot(x-u,y-v))));
  const oldFar=M.filter(([x,y])=>Math.hypot((x-140)/9,(y-90)/6)>=2).length;
  console.log(f.padEnd(60), 'marked',M.length,'iou',iou.toFixed(3),'maxDist',Math.max(0,...d).toFixed(2),'far6',d.filter(v=>v>6).length,'oldFar',oldFar);
}
