/// <reference types="vite/client" />

declare module 'virtual:digits-csv' {
  const csv: string;
  export default csv;
}
